"""The process group's buttons, run as Excel runs them (tests/addin/harness.py), on zh and en workbooks."""

from __future__ import annotations

from datetime import datetime

import pytest
from openpyxl import load_workbook

from addin import steps
from addin.run import Env
from complaints.colours import LEVEL_FILL
from complaints.enums import Grade, Level, LogKind, Satisfaction, Status
from complaints.model import Ticket
from complaints.schema import TICKETS
from tests.addin.harness import run_macro
from tests.addin.workbooks import NOW, branch_book, fill, numbered, read, set_cells
from tests.factories import local

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
ENV = Env(now=NOW, user="小王")
TITLE = {"zh": "投诉单", "en": "Tickets"}


def pick(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def on(path, macro, lang: str, selection: str = "A2", now: datetime = NOW):
    return run_macro(path, macro, Env(now=now, user="小王"), sheet=TITLE[lang], selection=selection)


def acknowledged(n: int, **fields: object) -> Ticket:
    return numbered(n, acknowledged_at=local(2026, 3, 2, 9, 30), **fields)


def planned(n: int, **fields: object) -> Ticket:
    return acknowledged(n, plan_at=local(2026, 3, 2, 10, 0), **fields)


def resolved(n: int, **fields: object) -> Ticket:
    return planned(n, resolved_at=local(2026, 3, 2, 10, 30), **fields)


def closed(n: int, closed_at: datetime, **fields: object) -> Ticket:
    return numbered(
        n,
        received_at=local(2026, 2, 2, 9, n),
        acknowledged_at=local(2026, 2, 2, 10, 0),
        plan_at=local(2026, 2, 3, 10, 0),
        resolved_at=local(2026, 2, 5, 10, 0),
        feedback_at=local(2026, 2, 5, 12, 0),
        cause="光交箱过载",
        solution="已扩容",
        safeguards="每月巡检",
        closed_at=closed_at,
        **fields,
    )


# --- acknowledge, plan ----------------------------------------------------------------------------


@LANGS
def test_acknowledge_stamps_now_logs_it_and_says_the_plan_is_next_with_the_grades_remedy(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2)], lang)
    outcome = on(path, steps.acknowledge, lang, "A2:B2")

    book = read(path)
    first, second = book.tickets
    assert first.acknowledged_at == NOW and first.status is Status.ACKNOWLEDGED
    assert second.acknowledged_at is None
    assert [(e.ticket_id, e.kind, e.at, e.author) for e in book.log] == [
        ("SZ01-20260302-0001", LogKind.PROGRESS, NOW, "小王")
    ]
    assert book.log[0].text.startswith("受理确认 / Acknowledge")
    if lang == "zh":
        assert outcome.text.startswith("已为 1 张投诉单记录“受理确认”（2026-03-02 11:00），已写入日志")
        assert "SZ01-20260302-0001：下一步：方案沟通，时限 2026-03-05 23:59" in outcome.text
        assert "中度投诉的处理方案：道歉 + 实质性补偿" in outcome.text
    else:
        assert outcome.text.startswith("Acknowledge recorded on 1 ticket(s) at 2026-03-02 11:00, and logged")
        assert "SZ01-20260302-0001: next: Plan communicated, due 2026-03-05 23:59" in outcome.text
        assert "Remedy for a Moderate complaint: Apology + substantive compensation" in outcome.text


@LANGS
def test_plan_before_acknowledgement_is_refused_naming_the_missing_step_and_nothing_changes(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], lang)
    outcome = on(path, steps.plan, lang)

    assert outcome.critical
    expected = {
        "zh": "无法方案沟通：\nSZ01-20260302-0001：须先完成“首次响应时间”，才能方案沟通\n本次未做任何修改。",
        "en": "Cannot record Plan communicated:\nSZ01-20260302-0001: Plan communicated needs "
        "'Acknowledged at' first\nNothing was changed.",
    }
    assert outcome.text == expected[lang]
    assert read(path).tickets[0].plan_at is None and read(path).log == []


@LANGS
def test_a_step_already_taken_is_refused_with_its_time(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [acknowledged(1)], lang)
    outcome = on(path, steps.acknowledge, lang)
    expected = {
        "zh": "SZ01-20260302-0001：“首次响应时间”已是 2026-03-02 09:30，无需再次受理确认",
        "en": "SZ01-20260302-0001: 'Acknowledged at' is already 2026-03-02 09:30",
    }
    assert outcome.critical and expected[lang] in outcome.text


@LANGS
def test_no_ticket_row_selected_asks_for_one(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], lang)
    outcome = run_macro(path, steps.acknowledge, ENV, sheet=TITLE[lang], selection="A1")
    expected = pick(lang, "请先在“投诉单”表中选中要受理确认的投诉单所在行", "Select the rows of the tickets")
    assert outcome.critical and outcome.text.startswith(expected)


# --- extension --------------------------------------------------------------------------------------


@LANGS
def test_an_extension_without_the_customer_informed_is_refused_saying_why(tmp_path, lang):
    ticket = acknowledged(1, extension_reason="需厂家更换设备", extension_until=local(2026, 3, 10, 18, 0))
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.extension, lang)
    expected = {
        "zh": "SZ01-20260302-0001：请先在本行填写“已告知客户延期”",
        "en": "SZ01-20260302-0001: fill in 'Customer told of extension' on its row first",
    }
    assert outcome.critical and expected[lang] in outcome.text
    assert read(path).tickets[0].extension_requested_at is None


@LANGS
def test_an_extension_after_the_plan_deadline_is_refused_with_the_clocks_reason(tmp_path, lang):
    ticket = acknowledged(
        1,
        extension_reason="需厂家更换设备",
        extension_customer_informed=True,
        extension_until=local(2026, 3, 12, 18, 0),
    )
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.extension, lang, now=local(2026, 3, 6, 9, 0))  # plan was due Thursday 5th
    expected = {
        "zh": "SZ01-20260302-0001：延期不成立：延期在方案时限之后才申请（须在时限前告知客户）",
        "en": "SZ01-20260302-0001: the extension is refused: extension recorded after the plan deadline",
    }
    assert outcome.critical and expected[lang] in outcome.text


@LANGS
def test_an_extension_in_time_moves_the_plan_deadline_and_is_logged(tmp_path, lang):
    ticket = acknowledged(
        1,
        extension_reason="需厂家更换设备",
        extension_customer_informed=True,
        extension_until=local(2026, 3, 10, 18, 0),
    )
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.extension, lang)

    book = read(path)
    after = book.tickets[0]
    assert after.extension_requested_at == NOW
    assert book.deadlines[after.sync_key]["plan_due"] == local(2026, 3, 10, 23, 59, 59)
    assert book.log[0].kind is LogKind.PROGRESS and "需厂家更换设备" in book.log[0].text
    assert pick(lang, "方案时限延至 2026-03-10 23:59", "plan now due 2026-03-10 23:59") in outcome.text


# --- resolve, feedback, close -------------------------------------------------------------------------


@LANGS
def test_resolved_says_feedback_is_due_within_24_hours(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [planned(1)], lang)
    outcome = on(path, steps.resolve, lang)
    book = read(path)
    after = book.tickets[0]
    assert after.resolved_at == NOW and after.status is Status.RESOLVED
    assert [(e.kind, e.text, e.at) for e in book.log] == [(LogKind.NOTE, "处理完成 / Resolved", NOW)]
    due = pick(lang, "下一步：结果反馈，时限 2026-03-03 11:00", "next: Feedback, due 2026-03-03 11:00")
    assert due in outcome.text


@LANGS
def test_feedback_without_cause_or_safeguards_is_refused_naming_both(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [resolved(1, solution="已扩容光交箱")], lang)
    outcome = on(path, steps.feedback, lang)
    expected = {
        "zh": "无法结果反馈：\nSZ01-20260302-0001：请先在本行填写“原因”、“后续保障”\n本次未做任何修改。",
        "en": "Cannot record Feedback:\nSZ01-20260302-0001: fill in 'Cause', 'Safeguards' on its row first\n"
        "Nothing was changed.",
    }
    assert outcome.critical and outcome.text == expected[lang]
    assert read(path).tickets[0].feedback_at is None


@LANGS
def test_feedback_stamps_logs_cause_solution_and_safeguards_and_warns_of_a_vague_promise(tmp_path, lang):
    ticket = resolved(
        1, preferred_channel="短信", cause="光交箱过载", solution="已扩容", safeguards="我们会尽快巡检"
    )
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.feedback, lang)

    book = read(path)
    after = book.tickets[0]
    assert after.feedback_at == NOW and after.status is Status.FEEDBACK_GIVEN
    assert after.feedback_channel == "短信"  # the customer's preferred channel
    assert "光交箱过载" in book.log[0].text and "每月" not in book.log[0].text
    assert pick(lang, "下一步：结案", "next: Close") in outcome.text
    assert pick(lang, "措辞提醒：“后续保障”中的“尽快”", "'尽快' in Safeguards") in outcome.text


@LANGS
def test_close_after_feedback_says_when_the_revisit_window_opens(tmp_path, lang):
    ticket = resolved(1, feedback_at=local(2026, 3, 2, 10, 45), cause="c", solution="s", safeguards="g")
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.close, lang)
    book = read(path)
    assert book.tickets[0].closed_at == NOW and book.tickets[0].status is Status.CLOSED
    assert [(e.kind, e.text) for e in book.log] == [(LogKind.NOTE, "结案 / Close")]
    window = "2026-03-05 00:00" if lang == "zh" else "between 2026-03-05 00:00 and 2026-03-11 23:59"
    assert window in outcome.text


# --- revisit, objection, cancel -----------------------------------------------------------------------


@LANGS
def test_a_revisit_before_the_window_opens_is_refused(tmp_path, lang):
    ticket = closed(1, local(2026, 2, 27, 10, 0), satisfaction=Satisfaction.SATISFIED)
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.revisit, lang)  # Monday 2 March; Saturday 28 February was a working day
    expected = {
        "zh": "回访期从 2026-03-03 00:00 开始（闭环后第 3 个工作日）",
        "en": "the revisit window opens 2026-03-03 00:00 (working day 3 after closure)",
    }
    assert outcome.critical and expected[lang] in outcome.text


@LANGS
def test_a_dissatisfied_revisit_escalates_turns_the_row_yellow_and_reopens(tmp_path, lang):
    ticket = closed(
        1, local(2026, 2, 24, 10, 0), satisfaction=Satisfaction.DISSATISFIED, suggestions="仍掉线"
    )
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.revisit, lang)

    book = read(path)
    after = book.tickets[0]
    assert after.level is Level.YELLOW and after.status is Status.REINVESTIGATING
    assert after.reopened_at == NOW and after.closed_at is None
    assert fill(path, lang, 2) == LEVEL_FILL[Level.YELLOW]
    assert [e.kind for e in book.log] == [LogKind.NOTE, LogKind.ESCALATION, LogKind.REOPEN]
    assert "不满意 / Dissatisfied; 仍掉线" in book.log[0].text
    reopened = pick(lang, "已重新处理，二次调查；预警等级 黄", "reopened for a second investigation")
    assert reopened in outcome.text


@LANGS
def test_a_satisfied_revisit_ends_the_process(tmp_path, lang):
    ticket = closed(1, local(2026, 2, 24, 10, 0), satisfaction=Satisfaction.SATISFIED)
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    outcome = on(path, steps.revisit, lang)
    assert read(path).tickets[0].status is Status.REVISITED
    assert pick(lang, "流程已结束", "the process is complete") in outcome.text


@LANGS
def test_an_objection_needs_the_new_demand_then_starts_the_second_investigation(tmp_path, lang):
    ticket = resolved(1, feedback_at=local(2026, 3, 2, 10, 45), cause="c", solution="s", safeguards="g")
    path = branch_book(tmp_path / "b.xlsx", [ticket], lang)
    refused = on(path, steps.objection, lang)
    assert refused.critical
    assert pick(lang, "请先在本行填写“新诉求”", "fill in 'New demand' on its row first") in refused.text

    set_cells(path, TICKETS, lang, 2, {"objection_demand": "要求赔偿一个月月租"})
    outcome = on(path, steps.objection, lang)
    book = read(path)
    after = book.tickets[0]
    assert (after.objection_count, after.reopened_at, after.feedback_at) == (1, NOW, None)
    assert after.status is Status.REINVESTIGATING
    assert [e.kind for e in book.log] == [LogKind.OBJECTION]
    assert "要求赔偿一个月月租" in book.log[0].text
    assert pick(lang, "下一步：方案沟通", "next: Plan communicated") in outcome.text


@LANGS
def test_cancel_needs_a_reason_and_then_ends_the_ticket_with_a_log_entry(tmp_path, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2, cancel_reason="客户撤诉")], lang)
    refused = on(path, steps.cancel, lang, "A2:A3")
    assert refused.critical and "SZ01-20260302-0002" not in refused.text.split("\n", 1)[1]
    assert read(path).tickets[1].cancelled_at is None  # one refused row stops all

    outcome = on(path, steps.cancel, lang, "A3")
    book = read(path)
    assert book.tickets[1].cancelled_at == NOW and book.tickets[1].status is Status.CANCELLED
    assert [(e.kind, e.text) for e in book.log] == [(LogKind.CANCELLATION, "客户撤诉")]
    assert not outcome.critical
    again = on(path, steps.plan, lang, "A3")
    assert pick(lang, "已撤销，不能再记录任何环节", "is cancelled") in again.text


# --- check wording -------------------------------------------------------------------------------------


@LANGS
def test_check_wording_lists_each_phrase_with_its_suggested_rewrite_beside_the_text(tmp_path, lang):
    ticket = resolved(1, solution="不能退费，我们会尽快处理", cause="线路老化", grade=Grade.MINOR)
    path = branch_book(tmp_path / "b.xlsx", [ticket, numbered(2, solution="We cannot refund you.")], lang)
    outcome = on(path, steps.check_wording, lang, "A2:A3")

    title = "措辞检查" if lang == "zh" else "Wording check"
    ws = load_workbook(path)[title]
    found = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert [(r[0], r[3]) for r in found] == [
        ("SZ01-20260302-0001", "不能"),
        ("SZ01-20260302-0001", "尽快"),
        ("SZ01-20260302-0002", "cannot"),
    ]
    assert found[0][2] == "不能退费，我们会尽快处理" and "正面表述" in found[0][5]
    assert "24小时" in found[1][5] and "positively" in found[2][5]
    assert pick(lang, "在 3 段文字中发现 3 处需改写", "3 phrase(s) to rewrite in 3 text(s)") in (outcome.text)


def test_check_wording_lints_a_draft_typed_in_any_other_sheet(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], "zh")
    book = load_workbook(path)
    book.create_sheet("草稿")["B2"] = "您好，已为您处理，24小时内回复您。稍后会有专人联系您。"
    book.save(path)
    outcome = run_macro(path, steps.check_wording, ENV, sheet="草稿", selection="B2")
    assert "“稍后”" in outcome.text and "在 1 段文字中发现 1 处需改写" in outcome.text


def test_check_wording_with_nothing_selected_says_what_to_select(tmp_path):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], "zh")
    outcome = run_macro(path, steps.check_wording, ENV, sheet="投诉单", selection="A1")
    assert outcome.critical and outcome.text.startswith("请先选中要检查的内容")
