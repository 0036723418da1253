"""The ribbon's macros, run as Excel runs them (tests/addin/harness.py), on zh and en branch workbooks."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import xlwings as xw
from openpyxl import load_workbook

from addin import macros
from addin.officejs import OFFICEJS_ACTIONS
from addin.run import Env
from complaints.cells import write_cell
from complaints.colours import LEVEL_FILL
from complaints.enums import Category, Flag, Grade, Level, LogKind, Satisfaction, Status
from complaints.model import Ticket
from complaints.schema import LOG, TICKETS
from tests.addin.harness import ensure_remote_engine, payload_of, run_macro, vba_actions
from tests.addin.workbooks import (
    NOW,
    branch_book,
    fill,
    numbered,
    read,
    rename_sheet,
    rows,
    set_cells,
    setting,
    type_ticket,
)
from tests.factories import SHANGHAI, local

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
ENV = Env(now=NOW, user="小王")
TICKETS_TITLE = {"zh": "投诉单", "en": "Tickets"}


def col(key: str) -> int:
    """1-based column of ``key`` in a workbook made by the project."""
    return [c.key for c in TICKETS.columns].index(key) + 1


# --- new ticket ---------------------------------------------------------------------------------


@LANGS
def test_new_ticket_adds_a_numbered_blue_row_received_now_with_the_cursor_on_its_channel(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", lang=lang)
    first = run_macro(path, macros.new_ticket, ENV)
    second = run_macro(path, macros.new_ticket, ENV)

    made = rows(path, TICKETS, lang)
    assert [r["ticket_id"] for r in made] == ["SZ01-20260302-0001", "SZ01-20260302-0002"]
    assert made[0]["received_at"] == NOW.replace(tzinfo=None)
    assert made[0]["level"] == Level.BLUE.label(lang)
    assert made[0]["status"] == Status.NEW.label(lang)
    missing = {
        "zh": "信息不全（缺：客户姓名、联系电话、问题发生时间、问题地点、涉及业务/人员、诉求期望、问题描述）",
        "en": "Information incomplete (missing: Customer name, Contact, Problem time, Place, "
        "Service or staff, Expectation, Description)",
    }
    assert made[0]["flags"] == missing[lang]
    assert made[0]["ack_due"].isoformat() == "2026-03-03T23:59:59"  # end of Tuesday
    assert fill(path, lang, 2) == fill(path, lang, 3) == LEVEL_FILL[Level.BLUE]
    book = load_workbook(path)
    assert book[TICKETS.title(lang)].tables["TicketsTable"].ref.endswith("3")  # the table grew to the new row
    assert book[TICKETS.title(lang)].sheet_view.selection[0].activeCell == "C3"
    expected = (
        "已新建投诉单 SZ01-20260302-0001（第 2 行）"
        if lang == "zh"
        else "New ticket SZ01-20260302-0001 (row 2)"
    )
    assert first.text.startswith(expected)
    assert "SZ01-20260302-0002" in second.text


def test_new_ticket_without_a_branch_code_asks_for_one_and_adds_nothing(tmp_path):
    path = branch_book(tmp_path / "b.xlsx")
    setting(path, "zh", "branch", "")
    outcome = run_macro(path, macros.new_ticket, ENV)
    assert outcome.critical and "“设置”表中没有分支机构编码" in outcome.text
    assert rows(path, TICKETS, "zh") == []


# --- route --------------------------------------------------------------------------------------


@LANGS
def test_route_fills_department_least_busy_investigator_and_every_deadline_of_the_selected_rows(
    tmp_path, lang
):
    tickets = [numbered(1), numbered(2), numbered(3, category=Category.BILLING_DISPUTE), numbered(4)]
    path = branch_book(tmp_path / "b.xlsx", tickets, lang)
    outcome = run_macro(path, macros.route, ENV, sheet=TICKETS_TITLE[lang], selection="A2:C4")

    book = read(path)
    routed = {t.ticket_id: t for t in book.tickets}
    first, second, third, fourth = (routed[t.ticket_id] for t in tickets)
    assert (first.department, first.investigator) == ("网络部", "网络部-调查员1")
    assert (second.department, second.investigator) == ("网络部", "网络部-调查员2")
    assert (third.department, third.investigator) == ("市场部", "市场部-调查员1")
    assert first.routed_at == NOW and first.status is Status.INVESTIGATING
    assert first.dept_feedback_due == local(2026, 3, 4, 23, 59, 59)  # moderate: 2 working days after routing
    deadlines = book.deadlines[first.sync_key]
    assert deadlines["ack_due"] == local(2026, 3, 3, 23, 59, 59)  # end of Tuesday
    assert deadlines["plan_due"] == local(2026, 3, 5, 23, 59, 59)  # end of Thursday
    assert fourth.routed_at is None  # not selected
    assert ("已分派 3 张投诉单" if lang == "zh" else "Routed 3 ticket(s)") in outcome.text


def test_route_with_no_ticket_row_selected_routes_every_unrouted_ticket_and_keeps_the_rotation(tmp_path):
    routed_before = numbered(
        1, department="网络部", investigator="网络部-调查员1", routed_at=local(2026, 3, 2, 9, 30)
    )
    path = branch_book(tmp_path / "b.xlsx", [routed_before, numbered(2), numbered(3)])
    run_macro(path, macros.route, ENV, sheet="投诉单", selection="A1")
    after = {t.ticket_id: t for t in read(path).tickets}
    assert after["SZ01-20260302-0001"].routed_at == local(2026, 3, 2, 9, 30)  # left alone
    assert after["SZ01-20260302-0002"].investigator == "网络部-调查员2"  # 调查员1 already has one
    assert after["SZ01-20260302-0003"].investigator == "网络部-调查员3"

    type_ticket(path, "zh", 5, numbered(4))
    run_macro(path, macros.route, ENV, sheet="投诉单", selection="A1")
    latest = {t.ticket_id: t for t in read(path).tickets}["SZ01-20260302-0004"]
    assert latest.investigator == "网络部-调查员1"  # all tied: the rotation goes on after 调查员3


def test_route_names_the_department_without_investigators(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], "en")
    book = load_workbook(path)
    routing = book["Routing"]
    for row in routing.iter_rows(min_row=2):
        if row[1].value == "网络部":
            row[4].value = None
    book.save(path)
    outcome = run_macro(path, macros.route, ENV, sheet="Tickets", selection="A2")
    assert outcome.critical
    assert (
        outcome.text.startswith("Cannot route:")
        and "网络部" in outcome.text
        and "no investigators" in outcome.text
    )
    assert read(path).tickets[0].routed_at is None


def test_a_broken_routing_row_stops_route_naming_its_cell_but_not_check_deadlines(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], "en")
    book = load_workbook(path)
    book["Routing"]["A3"].value = "Pigeon post"
    book.save(path)

    routed = run_macro(path, macros.route, ENV, sheet="Tickets", selection="A2")
    checked = run_macro(path, macros.check_deadlines, ENV)

    assert routed.critical and routed.text.startswith("The Routing sheet is wrong:")
    assert "Sheet 'Routing', row 3, column A (Category): 'Pigeon post' is not one of" in routed.text
    assert rows(path, TICKETS, "en")[0]["routed_at"] is None
    assert not checked.critical and checked.text.startswith("Checked 1 ticket(s)")


def test_route_when_everything_is_routed_says_so(tmp_path):
    done = numbered(1, department="网络部", investigator="甲", routed_at=local(2026, 3, 2, 9, 30))
    path = branch_book(tmp_path / "b.xlsx", [done])
    outcome = run_macro(path, macros.route, ENV, sheet="投诉单", selection="B2")
    assert outcome.critical and outcome.text.startswith("没有待分派的投诉单。")
    assert "SZ01-20260302-0001" in outcome.text


# --- escalate, de-escalate ------------------------------------------------------------------------


@LANGS
def test_escalate_raises_the_selected_rows_with_their_reason_names_the_head_and_writes_the_log(
    tmp_path, lang
):
    tickets = [numbered(n, level_reason="客户在微博发帖" if n != 2 else "") for n in (1, 2, 3)]
    path = branch_book(tmp_path / "b.xlsx", tickets, lang)
    outcome = run_macro(path, macros.escalate, ENV, sheet=TICKETS_TITLE[lang], selection="A2,C4")

    book = read(path)
    first, second, third = book.tickets
    assert (first.level, third.level, second.level) == (Level.YELLOW, Level.YELLOW, Level.BLUE)
    assert first.escalated_to == "网络部负责人" and first.escalated_at == NOW
    assert fill(path, lang, 2) == fill(path, lang, 4) == LEVEL_FILL[Level.YELLOW]
    assert [(e.ticket_id, e.kind, e.author) for e in book.log] == [
        ("SZ01-20260302-0001", LogKind.ESCALATION, "小王"),
        ("SZ01-20260302-0003", LogKind.ESCALATION, "小王"),
    ]
    assert "客户在微博发帖" in book.log[0].text and "网络部负责人" in book.log[0].text
    line = (
        "SZ01-20260302-0001：蓝→黄，已报 网络部负责人"
        if lang == "zh"
        else "SZ01-20260302-0001: Blue → Yellow"
    )
    assert line in outcome.text


@LANGS
def test_escalate_refuses_a_row_without_a_reason_and_changes_nothing(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1, level_reason="媒体"), numbered(2)], lang)
    outcome = run_macro(path, macros.escalate, ENV, sheet=TICKETS_TITLE[lang], selection="A2:A3")
    assert outcome.critical and [a["func"] for a in outcome.actions] == ["alert"]
    reason = TICKETS.column("level_reason").header(lang)
    if lang == "zh":
        assert outcome.text == f"请先在“{reason}”列填写升级原因：SZ01-20260302-0002。本次未做任何修改。"
    else:
        assert (
            outcome.text
            == f"Type the reason in the '{reason}' column first: SZ01-20260302-0002. Nothing was changed."
        )
    assert [t.level for t in read(path).tickets] == [Level.BLUE, Level.BLUE]


@LANGS
def test_escalate_with_no_ticket_selected_asks_for_a_selection(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1, level_reason="媒体")], lang)
    log = LOG.title(lang)
    outcome = run_macro(path, macros.escalate, ENV, sheet=log, selection="A2")
    expected = (
        "请先在“投诉单”表中选中要升级的投诉单所在行"
        if lang == "zh"
        else "Select the rows of the tickets to escalate"
    )
    assert outcome.critical and outcome.text.startswith(expected)


@LANGS
def test_escalate_refuses_a_red_ticket_and_de_escalate_lowers_one_level_with_an_audit_entry(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1, level=Level.RED, level_reason="误报，已核实")], lang)
    refused = run_macro(path, macros.escalate, ENV, sheet=TICKETS_TITLE[lang], selection="A2")
    expected = "SZ01-20260302-0001 已是红色预警" if lang == "zh" else "SZ01-20260302-0001 is already red"
    assert refused.critical and expected in refused.text

    lowered = run_macro(path, macros.deescalate, ENV, sheet=TICKETS_TITLE[lang], selection="2:2")
    book = read(path)
    assert book.tickets[0].level is Level.YELLOW
    assert [(e.kind, e.author) for e in book.log] == [(LogKind.DEESCALATION, "小王")]
    assert "误报，已核实" in book.log[0].text
    line = "已降级 1 张投诉单：\nSZ01-20260302-0001：红→黄" if lang == "zh" else "De-escalated 1 ticket(s):\n"
    assert lowered.text.startswith(line)
    assert fill(path, lang, 2) == LEVEL_FILL[Level.YELLOW]


def test_escalating_50_scattered_rows_of_10000_takes_one_write_and_one_fill_per_block(tmp_path):
    ensure_remote_engine()
    rng = random.Random(5)
    chosen = sorted(rng.sample(range(2, 10_002), 50))
    chosen += [chosen[-1] + 1] if chosen[-1] < 10_001 else []  # one block of two adjacent rows
    blocks = len([r for r in chosen if r - 1 not in chosen])
    payload = big_payload(tmp_path, 10_000, selection=",".join(f"A{r}" for r in chosen))
    with xw.Book(json=payload) as book:
        macros.escalate(book, ENV)
        actions = book.json()["actions"]
    count = Counter(a["func"] for a in actions)
    tickets_writes = [a for a in actions if a["func"] == "setValues" and a["sheet_position"] == 0]
    assert len(tickets_writes) == blocks
    assert count["setRangeColor"] == blocks
    # + the log block, and the _sync sheet remembering what was painted on those rows (values, text format)
    expected = {"setValues": blocks + 2, "setNumberFormat": 1, "setRangeColor": blocks, "resizeTable": 1}
    assert count == {**expected, "alert": 1}
    assert "已升级 51 张投诉单" in actions[-1]["args"][0]


def big_payload(tmp_path: Path, count: int, selection: str) -> dict[str, Any]:
    """The payload of a template with ``count`` ticket rows typed into its Tickets sheet, built in memory.

    (Writing and reading a 10,000-row .xlsx would take a minute; the payload is what the macro sees.)
    """
    payload = payload_of(branch_book(tmp_path / "big.xlsx"), sheet="投诉单", selection=selection)
    sheet = payload["sheets"][0]
    for n in range(1, count + 1):
        ticket = numbered(n, level_reason="客户在微博发帖")
        cells = [write_cell(c, getattr(ticket, c.key, None), "zh", SHANGHAI) for c in TICKETS.columns]
        sheet["values"].append([as_sent(v) for v in cells])
    table = sheet["tables"][0]
    table["range_address"] = table["range_address"].rsplit("$", 1)[0] + f"${count + 1}"
    return payload


def as_sent(value: object) -> object:
    """A cell value as an Excel client sends it."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return value


# --- check deadlines -------------------------------------------------------------------------------


@LANGS
def test_check_deadlines_links_a_compound_group_turns_it_yellow_and_counts_overdue_and_due_today(
    tmp_path, lang
):
    now = local(2026, 3, 5, 10, 0)  # Thursday: the plan of Monday's tickets is due tonight
    compound = [
        numbered(n, place="阳光花园小区", received_at=local(2026, 3, 2, 9, 10 + n)) for n in (1, 2, 3)
    ]
    late = numbered(4, received_at=local(2026, 2, 26, 9, 0))  # Thursday before: plan overdue
    path = branch_book(tmp_path / "b.xlsx", [*compound, late], lang)
    outcome = run_macro(path, macros.check_deadlines, Env(now=now, user="小王"))

    book = read(path, now)
    first = book.tickets[0]
    assert [t.level for t in book.tickets] == [Level.YELLOW, Level.YELLOW, Level.YELLOW, Level.BLUE]
    assert {t.group_id for t in book.tickets[:3]} == {"SZ01-20260302-0001"}
    assert Flag.PLAN_DUE_SOON in first.flags and Flag.ACK_OVERDUE in first.flags
    assert Flag.PLAN_OVERDUE in book.tickets[3].flags
    assert [fill(path, lang, r) for r in (2, 3, 4, 5)] == [LEVEL_FILL[Level.YELLOW]] * 3 + [
        LEVEL_FILL[Level.BLUE]
    ]
    assert [e.kind for e in book.log] == [LogKind.ESCALATION] * 3
    summary = "检查完成（4 张投诉单）：4 张超时，3 张今日到期" if lang == "zh" else "4 overdue, 3 due today"
    assert summary in outcome.text


def test_check_deadlines_twice_changes_no_value_the_second_time(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2, level=Level.RED)])
    run_macro(path, macros.check_deadlines, ENV)
    again = run_macro(path, macros.check_deadlines, ENV)
    assert again.count("setValues") == 0
    assert again.count("setRangeColor") == 0  # the _sync sheet remembers what was painted
    assert [a["func"] for a in again.actions] == ["alert"] and "灰色列" not in again.text


def test_check_deadlines_asks_follow_up_questions_for_a_vague_description(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1, description="网络卡，看视频一直转圈"), numbered(2)])
    outcome = run_macro(path, macros.check_deadlines, ENV)
    assert "1 张的问题描述含糊，建议追问客户" in outcome.text
    line = next(s for s in outcome.text.splitlines() if s.startswith("SZ01-20260302-0001"))
    assert "“网络卡”" in line and "重启" in line
    assert "SZ01-20260302-0002（" not in outcome.text


@LANGS
def test_a_dissatisfied_revisit_escalates_and_reopens_once_with_fresh_deadlines(tmp_path, lang):
    visited = closed(
        1,
        local(2026, 2, 25, 10, 0),
        revisited_at=local(2026, 3, 2, 10, 0),
        satisfaction=Satisfaction.DISSATISFIED,
        suggestions="仍然掉线",
    )
    content = closed(
        2,
        local(2026, 2, 25, 10, 0),
        revisited_at=local(2026, 3, 2, 10, 0),
        satisfaction=Satisfaction.SATISFIED,
    )
    path = branch_book(tmp_path / "b.xlsx", [visited, content], lang)
    outcome = run_macro(path, macros.check_deadlines, ENV)

    book = read(path)
    reopened, satisfied = book.tickets
    assert reopened.status is Status.REINVESTIGATING and reopened.level is Level.YELLOW
    assert (reopened.objection_count, reopened.reopened_at) == (1, local(2026, 3, 2, 10, 0))
    assert reopened.closed_at is None and reopened.revisited_at is None and reopened.resolved_at is None
    assert book.deadlines[reopened.sync_key]["plan_due"] == local(2026, 3, 5, 23, 59, 59)  # 3 days after
    assert [e.kind for e in book.log] == [LogKind.ESCALATION, LogKind.REOPEN]
    assert "仍然掉线" in book.log[1].text and "2026-02-25" in book.log[1].text  # the earlier closure kept
    assert satisfied.status is Status.REVISITED and satisfied.level is Level.BLUE
    assert ("回访不满意，已升级并重新处理（二次调查）1 张" if lang == "zh" else "reopened") in outcome.text

    again = run_macro(path, macros.check_deadlines, ENV)
    assert len(read(path).log) == 2 and "SZ01-20260302-0001" not in again.text


# --- revisit list, monthly summary -----------------------------------------------------------------


def closed(n: int, closed_at: datetime, **fields: object) -> Ticket:
    """Ticket n of early February, every milestone on time, closed at ``closed_at``."""
    return numbered(
        n,
        received_at=local(2026, 2, 2, 9, n),
        acknowledged_at=local(2026, 2, 2, 10, 0),
        routed_at=local(2026, 2, 2, 10, 5),
        department="网络部",
        plan_at=local(2026, 2, 3, 10, 0),
        resolved_at=local(2026, 2, 5, 10, 0),
        feedback_at=local(2026, 2, 5, 12, 0),
        closed_at=closed_at,
        **fields,
    )


@LANGS
def test_revisit_list_shows_closed_tickets_in_their_window_overdue_first(tmp_path, lang):
    tickets = [
        closed(1, local(2026, 2, 25, 10, 0)),  # window 2 Mar .. 6 Mar: due
        closed(2, local(2026, 2, 10, 10, 0)),  # window ended before today: overdue
        closed(3, local(2026, 3, 2, 9, 0)),  # closed today: too early
        numbered(4),
    ]
    path = branch_book(tmp_path / "b.xlsx", tickets, lang)
    outcome = run_macro(path, macros.revisit_list, ENV)
    title = "回访清单" if lang == "zh" else "Revisit list"
    ws = load_workbook(path)[title]
    listed = [row for row in ws.iter_rows(values_only=True) if any(row)]
    assert listed[0][0] == TICKETS.column("ticket_id").header(lang)
    assert [row[0] for row in listed[1:]] == ["SZ01-20260302-0002", "SZ01-20260302-0001"]
    assert listed[1][5] == Flag.REVISIT_OVERDUE.label(lang) and listed[2][5] == Flag.REVISIT_DUE.label(lang)
    assert listed[1][2] == "13800130002"  # the contact stays text
    assert ws["C2"].number_format == "@"
    assert (
        "回访清单：2 张待回访（其中 1 张" if lang == "zh" else "Revisit list: 2 ticket(s)"
    ) in outcome.text
    again = run_macro(path, macros.revisit_list, ENV)  # replaces the list, never adds a second sheet
    assert load_workbook(path).sheetnames.count(title) == 1 and again.count("addSheet") == 0


@LANGS
def test_monthly_summary_lists_the_type_distribution_and_kpis_of_the_branch(tmp_path, lang):
    march = [
        numbered(1),
        numbered(
            2,
            category=Category.BILLING_DISPUTE,
            resolved_at=local(2026, 3, 2, 10, 0),
            acknowledged_at=local(2026, 3, 2, 9, 30),
            plan_at=local(2026, 3, 2, 9, 45),
        ),  # fmt: skip
        numbered(3, level=Level.RED),
    ]
    path = branch_book(tmp_path / "b.xlsx", march, lang)
    outcome = run_macro(path, macros.monthly_summary, ENV)
    title = "月度分析" if lang == "zh" else "Monthly summary"
    ws = load_workbook(path)[title]
    values = {
        row[0]: (row[1], ws.cell(n, 2).number_format)
        for n, row in enumerate(ws.iter_rows(values_only=True), 1)
    }
    assert ws["A1"].value.startswith("SZ01 2026-03")
    if lang == "zh":
        assert values["受理量"][0] == 3 and values["类型分布：网络故障"][0] == 2
        assert values["解决率"] == (pytest.approx(1 / 3), "0.0%") and values["红色预警"][0] == 1
        assert "2026-03 月度分析已写入“月度分析”表" in outcome.text
    else:
        assert values["Complaints received"][0] == 3 and values["Type: Tariff / billing dispute"][0] == 1
        assert values["Resolution rate"] == (pytest.approx(1 / 3), "0.0%")


# --- errors the user sees ---------------------------------------------------------------------------


@LANGS
def test_a_renamed_tickets_sheet_is_named_in_both_languages(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], lang)
    rename_sheet(path, TICKETS.title(lang), "Sheet1")
    outcome = run_macro(path, macros.check_deadlines, ENV)
    assert outcome.critical
    assert "找不到“投诉单”工作表（英文名“Tickets”）" in outcome.text and "No 'Tickets' sheet" in outcome.text
    assert "Sheet1" in outcome.text
    assert [a["func"] for a in outcome.actions] == ["alert"]


@LANGS
def test_a_cell_that_does_not_fit_its_column_is_named_by_sheet_row_and_column(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2)], lang)
    set_cells(path, TICKETS, lang, 3, {"grade": "很严重", "acknowledged_at": "明天"})
    outcome = run_macro(path, macros.check_deadlines, ENV)
    assert outcome.critical and [a["func"] for a in outcome.actions] == ["alert"]
    if lang == "zh":
        assert "工作簿中有 2 处需要先改正，本次未做任何修改" in outcome.text
        assert (
            "工作表「投诉单」第 3 行 M 列（严重程度）：'很严重' 不是以下之一：轻微、中度、重大"
            in outcome.text
        )
    else:
        assert "Fix 2 problem(s) in the workbook first; nothing was changed" in outcome.text
        assert (
            "Sheet 'Tickets', row 3, column U (Acknowledged at): '明天' is not a date and time"
            in outcome.text
        )


def test_a_row_typed_by_hand_without_a_sync_key_gets_one(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)])
    type_ticket(path, "zh", 3, numbered(9))
    run_macro(path, macros.check_deadlines, ENV)
    keys = [r["sync_key"] for r in rows(path, TICKETS, "zh")]
    assert len(keys) == 2 and all(isinstance(k, str) and len(k) == 32 for k in keys)


# --- what the clients can apply ------------------------------------------------------------------


def test_every_action_of_every_branch_macro_is_one_both_excel_clients_apply(tmp_path):
    tickets = [
        numbered(1, level_reason="媒体"),
        closed(2, local(2026, 2, 25, 10, 0)),
        numbered(3, grade=Grade.MAJOR),
    ]
    path = branch_book(tmp_path / "b.xlsx", tickets)
    seen: set[str] = set()
    for run, selection in [
        (macros.new_ticket, None),
        (macros.route, "A2"),
        (macros.escalate, "A2"),
        (macros.deescalate, "A2"),
        (macros.check_deadlines, None),
        (macros.revisit_list, None),
        (macros.monthly_summary, None),
    ]:
        outcome = run_macro(path, run, ENV, sheet="投诉单", selection=selection)
        assert not outcome.critical, outcome.alerts
        seen |= {a["func"] for a in outcome.actions}
    assert seen <= vba_actions() & OFFICEJS_ACTIONS
    assert {"setValues", "setRangeColor", "alert", "addSheet", "setNumberFormat", "resizeTable"} <= seen


def test_run_caller_refuses_an_unknown_ribbon_tag():
    with pytest.raises(ValueError, match="unknown ribbon tag 'launch'"):
        macros.run_caller("launch")
