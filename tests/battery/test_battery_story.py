"""Battery item 14: the story of DESIGN §10 end to end, as one test with a pinned clock.

Branch SZ01's workbook is made by ``flask workbook new``; the coordinator's
buttons run through xlwings' remote engine (tests/addin/harness.py) on that
.xlsx; Sync talks HTTP to the real app (werkzeug thread, SQLite file); the
scheduler's jobs run as the scheduler calls them (``job(now)``); notices go
through the outbox to a local SMTP server (aiosmtpd); head office works in
Chromium (Playwright) and downloads the consolidated workbook with its token.

The calendar is the real 2026 one: Monday 28 September 2026 is followed by
Tuesday 29 and Wednesday 30, then National Day (1–7 October), so "plan within 3
working days" lands on Thursday 8 October; Saturday 10 October is a make-up
working day, which the revisit window counts.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import requests
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select

from addin import macros
from addin.run import Env
from complaints.cells import write_cell
from complaints.enums import Category, Channel, Flag, Level, LogKind, Satisfaction, Status
from complaints.figures import Kind
from complaints.routing import RoutingRule
from complaints.schema import CONFLICTS, LOG, TASKS, TICKETS, Sheet
from server import create_app
from server.scheduling.jobs import daily_digest, flag_scan, monthly_analysis, outbox
from server.services.reports import open_kept
from server.storage.db import get_db
from server.storage.evidence import evidence_store
from server.storage.models import BranchContactRow, BranchRow, ReportRow, TicketRow
from server.storage.routing import set_rule
from server.storage.rows import from_db
from server.xlsx.consolidate import KPI_COLUMNS
from tests.addin.harness import Outcome, run_macro
from tests.addin.test_sync import LiveServer
from tests.addin.workbooks import read, rows
from tests.browsing import ARGS, CHROMIUM, open_page, require_chromium, sign_in_at
from tests.factories import SHANGHAI, local
from tests.server.api.conftest import add_branch, add_head_office, free_port
from tests.server.jobs.conftest import PinnedClock
from tests.server.jobs.test_outbox_smtp import MailServer

pytestmark = pytest.mark.battery

PASSWORD = "hq-story-pass"
HEAD = "网络部负责人"  # the template's Routing sheet names him; the server's routing table has his address
HEAD_MAIL = "wang.network@sz01.example"
COORDINATOR_MAIL = "chen@sz01.example"
USER = "小王@SZ01-PC1"
LANG = "zh"
MONDAY = local(2026, 9, 28, 9, 10)


# --- the cast ---------------------------------------------------------------------------------------


class Desk:
    """The server (app, clock, HTTP, SMTP) and the branch workbook, as the story moves the clock."""

    def __init__(
        self, app: Flask, clock: PinnedClock, live: LiveServer, mail: MailServer, book: Path
    ) -> None:
        self.app, self.clock, self.live, self.mail, self.book = app, clock, live, mail, book

    # the coordinator ------------------------------------------------------------------------------

    def press(self, macro: Any, at: datetime, selection: str | None = None) -> Outcome:
        """Click a ribbon button at ``at`` (the server's clock moves too: a Sync meets it there)."""
        self.clock.now = at
        outcome = run_macro(self.book, macro, Env(now=at, user=USER), sheet="投诉单", selection=selection)
        assert not outcome.critical, outcome.alerts
        return outcome

    def type(self, ticket_id: str, **values: object) -> None:
        """Type values into a ticket's row, as Excel stores them (dates as dates, choices as labels)."""
        book = load_workbook(self.book)
        ws = book[TICKETS.title(LANG)]
        header = [c.value for c in ws[1]]
        row = next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == ticket_id)
        for key, value in values.items():
            column = TICKETS.column(key)
            ws.cell(row, header.index(column.header(LANG)) + 1, write_cell(column, value, LANG, SHANGHAI))
        book.save(self.book)

    def append(self, sheet: Sheet, **values: object) -> None:
        """Type a new row at the end of the Tasks or Log sheet."""
        book = load_workbook(self.book)
        ws = book[sheet.title(LANG)]
        header = [c.value for c in ws[1]]
        row = next(r for r in range(2, ws.max_row + 2) if ws.cell(r, 1).value is None)
        for key, value in values.items():
            column = sheet.column(key)
            ws.cell(row, header.index(column.header(LANG)) + 1, write_cell(column, value, LANG, SHANGHAI))
        book.save(self.book)

    def excel_row(self, ticket_id: str) -> int:
        ws = load_workbook(self.book)[TICKETS.title(LANG)]
        return next(r for r in range(2, ws.max_row + 1) if ws.cell(r, 1).value == ticket_id)

    def ticket(self, ticket_id: str, at: datetime) -> Any:
        """The ticket as the workbook holds it (the server's reader)."""
        return next(t for t in read(self.book, at).tickets if t.ticket_id == ticket_id)

    def cells(self, ticket_id: str) -> dict[str, object]:
        """The ticket's cells as typed or written (computed columns as the last macro or Sync left them)."""
        return next(r for r in rows(self.book, TICKETS, LANG) if r["ticket_id"] == ticket_id)

    # the scheduler -----------------------------------------------------------------------------------

    def scheduler(self, at: datetime, *jobs: Any) -> list[str]:
        """Run the scheduler's jobs at ``at`` (flag scan and outbox unless named), as it calls them."""
        self.clock.now = at
        with self.app.app_context():
            return [job(at).detail for job in (jobs or (flag_scan, outbox))]

    def stored(self, ticket_id: str) -> TicketRow:
        with self.app.app_context(), get_db().read() as session:
            row = session.scalar(select(TicketRow).where(TicketRow.ticket_id == ticket_id))
            assert row is not None, ticket_id
            session.expunge(row)
            return row

    def mails(self, subject_part: str = "") -> list[Any]:
        return [m for m in self.mail.inbox.messages if subject_part in str(m["Subject"])]


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", os.environ.get("XLWINGS_LICENSE_KEY") or "noncommercial")
    clock = PinnedClock(MONDAY)
    mail = MailServer(free_port())
    mail.start()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
            "EVIDENCE_DIR": str(tmp_path / "files"),
            "CLOCK": clock,
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": mail.port,
            "SMTP_FROM": "desk@hq.example",
        }
    )
    with app.app_context():
        get_db().upgrade()
    token = add_branch(app, "SZ01")
    with app.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        investigators = tuple(f"网络部-调查员{i}" for i in (1, 2, 3))
        set_rule(
            session, branch.id, RoutingRule(Category.NETWORK_FAULT, "网络部", HEAD, HEAD_MAIL, investigators)
        )
        session.add(
            BranchContactRow(branch_id=branch.id, coordinator="陈主管", email=COORDINATOR_MAIL, language="zh")
        )
    live = LiveServer(app)
    monkeypatch.setenv("COMPLAINT_DESK_TOKEN", token)  # the coordinator's own token, never in the workbook
    book = tmp_path / "SZ01.xlsx"
    made = app.test_cli_runner().invoke(
        args=["workbook", "new", "--branch", "SZ01", "-o", str(book), "--server-url", live.url]
    )
    assert made.exit_code == 0, made.output
    yield Desk(app, clock, live, mail, book)
    live.stop()
    mail.stop()
    with app.app_context():
        get_db().dispose()


@contextmanager
def head_office(url: str) -> Iterator[Any]:
    """A Chromium page signed in to the dashboard as head office's analyst."""
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems)
        sign_in_at(page, f"{url}/dashboard/", "analyst", PASSWORD)
        expect(page.locator(".tile").first).to_contain_text("受理量")
        yield page
        page.context.close()
        browser.close()
    assert not problems, problems


# --- figures as the dashboard prints them -----------------------------------------------------------


def shown_rate(value: object) -> str:
    return "—" if value is None else f"{float(value) * 100:.1f}%"  # type: ignore[arg-type]


def sheet_kpi_values(ws: Any) -> dict[str, dict[str, Any]]:
    """The KPI sheet's rows by name (合计, branch codes, departments): column key -> cell value."""
    keys = {c.zh: c.key for c in KPI_COLUMNS}
    out: dict[str, dict[str, Any]] = {}
    header: list[str | None] = []
    for row in ws.iter_rows(values_only=True):
        if row[1] in keys:
            header = [keys.get(v) for v in row]  # type: ignore[arg-type]
        elif header and row[0] is not None and any(v is not None for v in row[1:]):
            out[str(row[0])] = {k: v for k, v in zip(header, row, strict=False) if k is not None}
    return out


def sheet_kpis(ws: Any) -> dict[str, dict[str, str]]:
    """The KPI sheet's rows by name, each figure printed as the dashboard prints it."""
    kinds = {c.key: c.kind for c in KPI_COLUMNS}
    out: dict[str, dict[str, str]] = {}
    for name, values in sheet_kpi_values(ws).items():
        figures = {}
        for key, value in values.items():
            if kinds[key] is Kind.RATE:
                figures[key] = shown_rate(value)
            elif kinds[key] is Kind.DAYS:
                figures[key] = "—" if value is None else f"{value:g}"
            else:
                figures[key] = str(value)
        out[name] = figures
    return out


def dashboard_kpis(page: Any) -> dict[str, dict[str, str]]:
    """The overview's KPI tables (by branch, by department) as printed, by row name: figure key -> text."""
    out: dict[str, dict[str, str]] = {}
    for table in page.locator("table.kpis").all():
        for tr in table.locator("tbody tr").all():
            name = tr.locator("th").first.inner_text().strip()
            out[name] = {
                td.get_attribute("data-figure"): td.inner_text().strip() for td in tr.locator("td").all()
            }
    return out


def kept_reports(desk: Desk) -> dict[str, bytes]:
    with desk.app.app_context(), get_db().read() as session:
        store, kept = evidence_store(), {}
        for row in session.scalars(select(ReportRow)):
            with open_kept(row, store) as content:
                kept[row.period] = content.read()
        return kept


def sheet_values(ws: Any) -> list[tuple[Any, ...]]:
    return [r for r in ws.iter_rows(values_only=True) if any(v is not None for v in r)]


# --- the story ------------------------------------------------------------------------------------


def test_the_story_of_design_section_10(desk: Desk) -> None:  # noqa: PLR0915 - one story, told in order
    require_chromium()
    from playwright.sync_api import expect

    # 1. Monday 09:10: the hotline call. New ticket; INFO_INCOMPLETE until place and expectation are there;
    #    "网络卡" gets follow-up questions.
    made = desk.press(macros.new_ticket, MONDAY)
    a = "SZ01-20260928-0001"
    assert a in made.text and "2026-09-28 09:10" in made.text
    desk.type(
        a,
        channel=Channel.HOTLINE,
        customer_name="张先生",
        contact="13800138001",
        category=Category.NETWORK_FAULT,
        problem_time="每晚八点以后",
        service="家庭宽带 200M",
        description="宽带每天晚上都掉线，网络卡，看视频一直转圈",
    )
    checked = desk.press(macros.check_deadlines, local(2026, 9, 28, 9, 14))
    flags = desk.ticket(a, local(2026, 9, 28, 9, 14)).flags
    assert {Flag.INFO_INCOMPLETE, Flag.VAGUE_DESCRIPTION} <= flags
    assert "建议追问客户" in checked.text and "“网络卡”" in checked.text, checked.text
    assert "重启" in checked.text  # e.g. "did restarting the modem help?"
    desk.type(a, place="阳光花园小区3栋")
    desk.press(macros.check_deadlines, local(2026, 9, 28, 9, 15))
    assert (
        Flag.INFO_INCOMPLETE in desk.ticket(a, local(2026, 9, 28, 9, 15)).flags
    )  # the expectation is missing
    desk.type(a, expectation="尽快修复，减免故障期间月租")
    desk.press(macros.check_deadlines, local(2026, 9, 28, 9, 16))
    assert Flag.INFO_INCOMPLETE not in desk.ticket(a, local(2026, 9, 28, 9, 16)).flags
    assert Flag.INFO_INCOMPLETE.zh not in str(desk.cells(a)["flags"])

    # 2. Route: network department, the least-busy investigator; acknowledgement due end of Tuesday, plan due
    #    at the end of the 3rd working day: Thursday 8 October, after National Day.
    routed = desk.press(macros.route, local(2026, 9, 28, 9, 20), selection="A2")
    ticket_a = desk.ticket(a, local(2026, 9, 28, 9, 20))
    assert (ticket_a.department, ticket_a.investigator) == ("网络部", "网络部-调查员1")
    assert "网络部-调查员1" in routed.text
    deadlines = read(desk.book, local(2026, 9, 28, 9, 20)).deadlines[ticket_a.sync_key]
    assert deadlines["ack_due"] == local(2026, 9, 29, 23, 59, 59)  # Tuesday
    assert deadlines["plan_due"] == local(2026, 10, 8, 23, 59, 59)  # Tue 29, Wed 30, (1–7 Oct off), Thu 8
    desk.type(a, acknowledged_at=local(2026, 9, 28, 9, 30))
    first_sync = desk.press(macros.sync, local(2026, 9, 28, 9, 40))
    assert "新建 1" in first_sync.text
    desk.scheduler(local(2026, 9, 28, 9, 45))  # the scheduler's first scan of SZ01
    assert desk.mails() == []

    # 3. Two neighbours of the same compound call in the afternoon; Check deadlines links the three as a
    #    group incident, yellow; after Sync the scheduler e-mails the department head.
    b, c = "SZ01-20260928-0002", "SZ01-20260928-0003"
    for number, at, name, contact, place in (
        (b, local(2026, 9, 28, 14, 5), "李女士", "13900139002", "阳光花园小区3栋"),
        (c, local(2026, 9, 28, 14, 40), "王先生", "13700137003", "阳光花园小区 3栋"),
    ):
        assert number in desk.press(macros.new_ticket, at).text
        desk.type(
            number,
            channel=Channel.HOTLINE,
            customer_name=name,
            contact=contact,
            category=Category.NETWORK_FAULT,
            place=place,
            problem_time="昨晚起",
            service="家庭宽带",
            description="家里宽带晚上断线，无法上网",
            expectation="尽快修复",
            acknowledged_at=at,
        )
    grouped = desk.press(macros.check_deadlines, local(2026, 9, 28, 14, 45))
    assert "规则升级 3 张" in grouped.text
    book = read(desk.book, local(2026, 9, 28, 14, 45))
    trio = {t.ticket_id: t for t in book.tickets}
    assert {t.level for t in trio.values()} == {Level.YELLOW}
    assert {t.group_id for t in trio.values()} == {a}
    assert {t.escalated_to for t in trio.values()} == {HEAD}
    assert sorted(e.ticket_id for e in book.log if e.kind is LogKind.ESCALATION) == [a, b, c]
    desk.press(macros.route, local(2026, 9, 28, 14, 47), selection="A3:A4")
    investigators = {t.ticket_id: t.investigator for t in read(desk.book, local(2026, 9, 28, 14, 47)).tickets}
    # the fewest open tickets first: B to 调查员2 (调查员1 has A), then C to 调查员3
    assert investigators == {a: "网络部-调查员1", b: "网络部-调查员2", c: "网络部-调查员3"}
    desk.press(macros.sync, local(2026, 9, 28, 14, 50))
    desk.scheduler(local(2026, 9, 28, 14, 55))
    yellow = desk.mails("黄色预警")
    assert sorted(n for m in yellow for n in (a, b, c) if n in str(m["Subject"])) == [a, b, c]
    assert {m["To"] for m in yellow} == {HEAD_MAIL}
    assert all("群体" in m.get_content() for m in yellow), [m.get_content() for m in yellow]

    # 4. C posts on Weibo: media exposure ticked, Escalate with the reason: red, head named, Log entry.
    desk.type(c, media_exposure=True, level_reason="客户在微博发帖曝光小区断网")
    escalated = desk.press(macros.escalate, local(2026, 9, 28, 15, 30), selection=f"A{desk.excel_row(c)}")
    assert f"{c}：黄→红，已报 {HEAD}" in escalated.text
    book = read(desk.book, local(2026, 9, 28, 15, 30))
    assert next(t for t in book.tickets if t.ticket_id == c).level is Level.RED
    weibo = [e for e in book.log if e.ticket_id == c and e.kind is LogKind.ESCALATION][-1]
    assert "微博" in weibo.text and weibo.author == USER
    desk.press(macros.sync, local(2026, 9, 28, 15, 35))
    desk.scheduler(local(2026, 9, 28, 15, 40))
    (red,) = desk.mails("红色预警")
    assert c in str(red["Subject"]) and red["To"] == HEAD_MAIL and "微博" in red.get_content()

    # 5. Head office sees the red ticket on the dashboard, comments on it, and escalates B with a note;
    #    meanwhile the branch typed another reason on B. The branch's next Sync brings the comment, the
    #    note and the level in; the reason changed on both sides lands on the Conflicts sheet, both values.
    desk.clock.now = local(2026, 9, 28, 16, 0)
    note = "总部督办：阳光花园群体断网，要求网络部今日到场排查"
    comment = "总部：请今日内回复微博并电话安抚客户"
    add_head_office(desk.app, "analyst", PASSWORD)
    with head_office(desk.live.url) as page:
        page.get_by_role("link", name="投诉单", exact=True).click()
        filters = page.locator("#ticket-filters")
        filters.get_by_label("红", exact=True).check()
        filters.get_by_role("button", name="查询").click()
        listed = page.locator("table.tickets tbody tr")
        expect(listed).to_have_count(1)
        expect(listed.first).to_have_class("level-red")
        expect(listed.first).to_contain_text(c)
        listed.first.get_by_role("link", name=c).click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("红")
        page.get_by_label("备注内容").fill(comment)
        page.get_by_role("button", name="添加备注").click()
        expect(page.locator(".flash-success")).to_contain_text("已添加备注")
        expect(page.locator("body")).to_contain_text(comment)
        page.goto(f"{desk.live.url}/dashboard/tickets/{desk.stored(b).sync_key}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("黄")
        page.get_by_label("升级原因").fill(note)
        page.get_by_label("通知部门负责人").fill(HEAD)
        page.get_by_role("button", name="升级", exact=True).click()
        expect(page.locator(".flash-success")).to_contain_text("已升级：黄 → 红")
        expect(page.locator("table.history")).to_contain_text("analyst（总部）")
    desk.scheduler(local(2026, 9, 28, 16, 5), outbox)
    assert any(b in str(m["Subject"]) and note in m.get_content() for m in desk.mails("红色预警"))

    branch_reason = "客户再次来电催促，已致歉"
    desk.type(b, level_reason=branch_reason)
    pulled = desk.press(macros.sync, local(2026, 9, 28, 16, 20))
    assert "1 处冲突" in pulled.text, pulled.text
    conflicts = rows(desk.book, CONFLICTS, LANG)
    assert [(x["ticket_id"], x["field"]) for x in conflicts] == [(b, "升级/降级原因")]
    assert {conflicts[0]["branch_value"], conflicts[0]["server_value"]} == {branch_reason, note}
    book = read(desk.book, local(2026, 9, 28, 16, 20))
    assert next(t for t in book.tickets if t.ticket_id == b).level is Level.RED
    assert any(e.ticket_id == b and note in e.text and e.author == "analyst" for e in book.log)
    assert [(e.kind, e.text, e.author) for e in book.log if e.ticket_id == c and e.author == "analyst"] == [
        (LogKind.NOTE, comment, "analyst")
    ]

    # Month end of September: the coordinator's Monthly summary of the branch (from the workbook, offline)
    # and the scheduler's September analysis (from the server, 1 October) show the same figures.
    desk.press(macros.monthly_summary, local(2026, 9, 30, 18, 0))
    summary = {r[0]: r[1] for r in sheet_values(load_workbook(desk.book)["月度分析"])[2:]}
    desk.scheduler(local(2026, 10, 1, 0, 30), monthly_analysis)
    september = openpyxl.load_workbook(io.BytesIO(kept_reports(desk)["2026-09"]))
    types = {r[0]: r[1] for r in sheet_values(september["月度分析"])[:12]}
    network = Category.NETWORK_FAULT.label("zh")
    assert types[network] == summary[f"类型分布：{network}"] == 3
    on_server = sheet_kpi_values(september["KPI"])["SZ01"]
    compared = [c for c in KPI_COLUMNS if c.zh in summary]
    assert len(compared) >= 12, sorted(summary)
    for column in compared:
        want = on_server[column.key]
        assert summary[column.zh] == (pytest.approx(want) if isinstance(want, float) else want), column.zh
    assert (on_server["received"], on_server["red"], on_server["yellow"], on_server["group_incidents"]) == (
        3,
        2,
        1,
        1,
    )

    # 6. Thursday 8 October passes without a plan for A: the scheduler flags it, the digest lists it.
    desk.scheduler(local(2026, 10, 8, 20, 0), flag_scan)
    assert Flag.PLAN_OVERDUE not in from_db("flags", desk.stored(a).flags)
    friday = local(2026, 10, 9, 8, 0)
    desk.scheduler(friday, flag_scan, daily_digest, outbox)
    assert Flag.PLAN_OVERDUE in from_db("flags", desk.stored(a).flags)
    digests = [m for m in desk.mails("每日汇总") if m["To"] == HEAD_MAIL]
    assert len(digests) == 1 and "2026-10-09" in str(digests[0]["Subject"])
    overdue_line = next(line for line in digests[0].get_content().splitlines() if a in line)
    assert Flag.PLAN_OVERDUE.label("zh") in overdue_line
    desk.press(macros.sync, local(2026, 10, 9, 9, 0))
    assert Flag.PLAN_OVERDUE.zh in str(desk.cells(a)["flags"])  # the scheduler's flag, pulled in

    # 7. Plan, tasks with owners, progress, resolution, feedback within 24 h, closure.
    desk.type(a, plan_at=local(2026, 10, 9, 9, 30), promised_at=local(2026, 10, 9, 18, 0))
    for no, title, done in ((1, "更换3栋光分路器", local(2026, 10, 9, 13, 30)), (2, "夜间测速", None)):
        desk.append(
            TASKS,
            ticket_id=a,
            task_no=no,
            title=title,
            owner="网络部-调查员1",
            due=date(2026, 10, 9),
            done_at=done,
        )
    desk.append(
        LOG,
        ticket_id=a,
        at=local(2026, 10, 9, 9, 35),
        kind=LogKind.PROGRESS,
        text="已电话告知客户：今日更换分路器",
        author=USER,
        channel="电话",
    )
    desk.press(macros.sync, local(2026, 10, 9, 9, 40))
    desk.type(
        a,
        resolved_at=local(2026, 10, 9, 14, 0),
        feedback_at=local(2026, 10, 9, 15, 0),
        feedback_channel="电话",
        cause="3栋光分路器老化，晚高峰丢包",
        solution="更换光分路器并重新熔接",
        safeguards="该小区光交箱纳入每季度巡检",
        closed_at=local(2026, 10, 9, 15, 30),
        root_cause="光分路器老化",
        improvement="小区光交箱纳入季度巡检",
        improvement_done=True,
    )
    closed = desk.press(macros.check_deadlines, local(2026, 10, 9, 15, 35))
    ticket_a = desk.ticket(a, local(2026, 10, 9, 15, 35))
    assert ticket_a.status is Status.CLOSED, closed.text
    deadlines = read(desk.book, local(2026, 10, 9, 15, 35)).deadlines[ticket_a.sync_key]
    assert deadlines["feedback_due"] == local(2026, 10, 10, 14, 0)  # 24 h after resolution
    # the revisit window: Sat 10 Oct (make-up day) is the 1st working day, Mon 12 the 2nd, Tue 13 the 3rd
    assert deadlines["revisit_from"] == local(2026, 10, 13, 0, 0)
    assert deadlines["revisit_until"] == local(2026, 10, 19, 23, 59, 59)
    desk.press(macros.sync, local(2026, 10, 9, 15, 40))

    monday = desk.press(macros.revisit_list, local(2026, 10, 12, 9, 0))
    assert "回访清单：0 张待回访" in monday.text
    desk.scheduler(local(2026, 10, 13, 8, 0), flag_scan)
    assert Flag.REVISIT_DUE in from_db("flags", desk.stored(a).flags)
    tuesday = desk.press(macros.revisit_list, local(2026, 10, 13, 9, 0))
    assert "回访清单：1 张待回访" in tuesday.text
    listed_rows = sheet_values(load_workbook(desk.book)["回访清单"])
    assert [r[0] for r in listed_rows[1:]] == [a]

    # The customer is dissatisfied: escalated (yellow → red) and reopened, a second investigation with fresh
    # deadlines (plan within 3 working days of the revisit: Wed 14, Thu 15, Fri 16 October).
    desk.type(
        a,
        revisited_at=local(2026, 10, 13, 10, 0),
        satisfaction=Satisfaction.DISSATISFIED,
        suggestions="晚上仍偶尔掉线",
    )
    reopened = desk.press(macros.check_deadlines, local(2026, 10, 13, 10, 5))
    assert "回访不满意，已升级并重新处理（二次调查）1 张" in reopened.text, reopened.text
    ticket_a = desk.ticket(a, local(2026, 10, 13, 10, 5))
    assert ticket_a.status is Status.REINVESTIGATING and ticket_a.level is Level.RED
    assert ticket_a.objection_count == 1 and ticket_a.reopened_at == local(2026, 10, 13, 10, 0)
    assert ticket_a.closed_at is None and ticket_a.revisited_at is None
    deadlines = read(desk.book, local(2026, 10, 13, 10, 5)).deadlines[ticket_a.sync_key]
    assert deadlines["plan_due"] == local(2026, 10, 16, 23, 59, 59)
    kinds = [e.kind for e in read(desk.book, local(2026, 10, 13, 10, 5)).log if e.ticket_id == a]
    assert kinds[-2:] == [LogKind.ESCALATION, LogKind.REOPEN]
    again = desk.press(macros.check_deadlines, local(2026, 10, 13, 10, 6))
    assert "回访不满意" not in again.text  # reopened once
    desk.press(macros.sync, local(2026, 10, 13, 10, 10))
    desk.scheduler(local(2026, 10, 13, 10, 15))
    stored_a = desk.stored(a)
    assert (stored_a.status, stored_a.level, stored_a.objection_count) == ("reinvestigating", "red", 1)
    assert any(a in str(m["Subject"]) and "回访不满意" in m.get_content() for m in desk.mails("红色预警"))

    # 8. Month end. The scheduler keeps September's analysis on 1 October; at the end of October head office
    #    downloads September's consolidated workbook: the incident's category, root cause and improvement,
    #    and KPIs equal to the dashboard's for the same month.
    desk.scheduler(local(2026, 11, 1, 0, 30), monthly_analysis)
    assert set(kept_reports(desk)) == {"2026-09", "2026-10"}

    desk.clock.now = local(2026, 11, 1, 9, 0)
    token = add_head_office(desk.app, "hq-pull", PASSWORD)
    response = requests.get(
        f"{desk.live.url}/api/consolidated",
        params={"start": "2026-09-01", "end": "2026-10-01"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    consolidated = openpyxl.load_workbook(io.BytesIO(response.content))
    analysis = sheet_values(consolidated["月度分析"])
    assert any(r[0] == Category.NETWORK_FAULT.label("zh") and r[1] == 3 for r in analysis)
    cause = next(r for r in analysis if r[0] == "光分路器老化")
    assert cause[1] == 1 and "小区光交箱纳入季度巡检" in str(cause[4])
    in_book = sheet_kpis(consolidated["KPI"])
    assert in_book["合计"]["group_incidents"] == "1" and in_book["合计"]["received"] == "3"

    with head_office(desk.live.url) as page:
        page.goto(f"{desk.live.url}/dashboard/?from=2026-09-01&to=2026-09-30")
        on_dashboard = dashboard_kpis(page)
        types_chart = page.locator("svg.chart").filter(has_text=network)
        expect(types_chart).to_contain_text(f"{network}3")  # the bar's label, then its value
        expect(page.locator("body")).to_contain_text("光分路器老化")
        expect(page.locator("body")).to_contain_text("小区光交箱纳入季度巡检")
    assert set(on_dashboard) >= {"SZ01", "网络部"}
    for name in ("SZ01", "网络部"):
        assert on_dashboard[name] == in_book[name], name
    overall = next(n for n in on_dashboard if n not in ("SZ01", "网络部"))
    assert on_dashboard[overall] == in_book["合计"]
    assert in_book["SZ01"]["red"] == "3" and in_book["SZ01"]["yellow"] == "0"  # A, B, C all red by now
