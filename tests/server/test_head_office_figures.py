"""One figure, one number: on the dashboard, in the lists it links, the workbook and the monthly analysis.

Three branches, two of them in Shanghai and one in London, receive tickets
around the end of November 2026 — some at a few minutes past or before local
midnight — in every state: cancelled, reopened for a second investigation,
overdue, red, yellow, in a group incident, repeat complaints, major cases with
their plan on time or late. They go in through
the branch sync and the flag scan, as in production, with "now" pinned.

For several periods and branch choices, signed in as head office:

- every figure of the overview that counts tickets links to a ticket list of
  exactly that many tickets;
- every such figure equals an independent count of the stored tickets, written
  out below from the definitions (each branch's own local days; cancelled
  tickets only in "cancelled");
- every figure of the overview's KPI tables equals the cell of the same name in
  the consolidated workbook, and the workbook's ticket sheets hold as many rows;
- the period reads the same, last day included, on the page and in the workbook;
- the scheduler's monthly analysis of November shows the November figures.
"""

from __future__ import annotations

import io
import os
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from complaints.enums import Category, Channel, Fishbone, Grade, Level, MeasureStatus, Satisfaction
from complaints.lifecycle import record_objection
from complaints.model import Ticket
from server import create_app
from server.auth import HEAD_OFFICE
from server.scheduling.jobs import monthly_analysis
from server.scheduling.scan import scan_flags
from server.services.reports import open_kept
from server.storage.db import get_db
from server.storage.evidence import evidence_store
from server.storage.models import BranchRow, ReportRow, TicketRow
from tests.server.api import conftest as api
from tests.server.dashboard.conftest import add_user, sign_in
from tests.server.jobs.conftest import push_tickets

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 02:00 in London
ZONES = {"SZ01": "Asia/Shanghai", "GZ01": "Asia/Shanghai", "LD01": "Europe/London"}


@dataclass(frozen=True)
class Days:
    """A period as the test writes it: first and last day, both included."""

    first: date
    last: date

    @property
    def shown(self) -> str:
        return f"{self.first.isoformat()} – {self.last.isoformat()}"


PERIODS = {
    "a month": Days(date(2026, 11, 1), date(2026, 11, 30)),
    "part of a month": Days(date(2026, 11, 10), date(2026, 11, 20)),
    "one day": Days(date(2026, 12, 1), date(2026, 12, 1)),
    "across the month end": Days(date(2026, 11, 28), date(2026, 12, 3)),
}
CHOICES = {"one branch": ("LD01",), "two branches": ("SZ01", "LD01"), "every branch": ()}

OVERDUE = {
    "ACK_OVERDUE",
    "PLAN_OVERDUE",
    "DEPT_FEEDBACK_OVERDUE",
    "RESOLVE_OVERDUE",
    "FEEDBACK_OVERDUE",
    "REVISIT_OVERDUE",
    "TASK_OVERDUE",
    "APPEAL_RISK",
    "ROUTE_OVERDUE",
    "MEASURE_OVERDUE",
}
STATUSES = (
    "new",
    "acknowledged",
    "investigating",
    "executing",
    "reinvestigating",
    "resolved",
    "feedback_given",
    "closed",
    "revisited",
)


# --- the tickets ----------------------------------------------------------------------------------------

ACCEPTED = {"channel": Channel.HOTLINE, "customer_name": "王女士", "description": "宽带每晚断线"}
"""What the sync's validation requires besides the fields each ticket sets (`complaints.validation`)."""


def make_tickets(code: str, rng: random.Random) -> Iterator[Ticket]:
    """About sixty tickets of branch ``code`` received 20 Nov – 4 Dec (local), at every stage."""
    zone = ZoneInfo(ZONES[code])
    now = NOW.astimezone(zone)
    first = datetime(2026, 10, 25, tzinfo=zone)
    minutes = [5, 9 * 60, 14 * 60 + 30, 23 * 60 + 55]  # a few minutes after or before local midnight too
    for n in range(60):
        day = first + timedelta(days=rng.randrange(41))
        received = day + timedelta(minutes=rng.choice(minutes))
        if received >= now:
            continue
        t = Ticket(
            f"{code}-{received:%Y%m%d}-{n:04d}",
            received,
            branch=code,
            contact=f"139{rng.randrange(10**8):08d}",
            category=rng.choice(list(Category)),  # required: no door stores a ticket without one
            place=f"{code}小区{n}期",
            grade=rng.choice(list(Grade)),
            **ACCEPTED,
        )
        # the coordinator from a generator of its own (the other fields stay those of the seed)
        t.coordinator = random.Random(f"{code}-{n}-staff").choice(["张三", " 张三 ", "李四", "", "王五"])
        stage = rng.randrange(9)
        at = received

        def later(hours: int) -> datetime | None:
            nonlocal at
            at = at + timedelta(hours=rng.randrange(1, hours))
            return at if at < now else None

        if stage >= 1:
            t.acknowledged_at = later(30)
        if stage >= 2 and t.acknowledged_at:
            t.routed_at = later(3)
            t.department = rng.choice(["网络部", "市场部", " 网络部 "]) if t.routed_at else ""
            t.investigator = "调查员1" if t.routed_at else ""
        if stage >= 3 and t.routed_at:
            t.plan_at = later(80)
        if stage >= 4 and t.plan_at:
            t.resolved_at = later(100)
            t.cause, t.solution = ("设备老化", "已更换") if t.resolved_at else ("", "")
            t.root_cause = rng.choice(["老旧设备容量不足", "培训不到位"]) if t.resolved_at else ""
            t.improvement, t.improvement_done = "扩容", rng.random() < 0.2
            # the cause on a fishbone branch; the measure in every state, done a few days after resolving
            # (drawn from a generator of their own: the other fields stay those of the seed)
            own = random.Random(f"{code}-{n}-measure")
            t.fishbone = own.choice([Fishbone.NETWORK, Fishbone.PROCESS, None])
            t.measure_status = own.choice([None, *MeasureStatus])
            t.measure_due = (received + timedelta(days=own.randrange(3, 30))).date()
            if t.measure_status is MeasureStatus.DONE and t.resolved_at:
                t.measure_done_at = min(t.resolved_at + timedelta(hours=own.randrange(1, 72)), now)
        if stage >= 5 and t.resolved_at:
            t.feedback_at = later(30)
            t.safeguards = "纳入月度巡检"
        if stage == 6 and t.feedback_at and later(20):  # the customer objects: second investigation
            t, _ = record_objection(t, "要求赔偿", at, "coordinator")
        if stage >= 7 and t.feedback_at:
            t.closed_at = later(20)
        if stage >= 8 and t.closed_at:
            t.revisited_at = later(150)
            t.satisfaction = rng.choice(list(Satisfaction)) if t.revisited_at else None
        roll = rng.random()
        if roll < 0.08:
            t.media_exposure = True  # red by the level rules
        elif roll < 0.16:
            t.level, t.level_reason = Level.YELLOW, "分支机构手工升级"
        if stage <= 1 and rng.random() < 0.25:
            t.cancelled_at, t.cancel_reason = received + timedelta(minutes=30), "客户撤诉"
        yield t
    # a group incident: three neighbours with the same problem within a week (yellow, linked)
    base = first + timedelta(days=35, hours=10)
    for n in range(3):
        yield Ticket(
            f"{code}-G{n}",
            base + timedelta(days=n, minutes=n),
            branch=code,
            contact=f"137{n:08d}{code[-1]}"[:11],
            category=Category.NETWORK_FAULT,
            place="阳光花园3栋",
            **ACCEPTED,
        )
    # a repeat complaint: the same customer twice, unresolved (yellow), and a cancelled third time
    for n in range(3):
        yield Ticket(
            f"{code}-R{n}",
            base + timedelta(days=1 + n, hours=n),
            branch=code,
            contact=f"1380013{ord(code[0]):04d}",
            category=Category.BILLING_DISPUTE,
            cancelled_at=base + timedelta(days=3, hours=5) if n == 2 else None,
            cancel_reason="重复登记" if n == 2 else "",
            **ACCEPTED,
        )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The three branches with their tickets, synced and scanned at `NOW`; an analyst; the monthly report."""
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('figures') / 'figures.db'}"
    elif api._postgres_available():
        url, name = api._fresh_postgres_database()
    elif os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {api.PG_ADMIN_URL}")
    else:
        pytest.skip("PostgreSQL not reachable")
    files = str(tmp_path_factory.mktemp("files"))
    app = create_app({"TESTING": True, "DATABASE_URL": url, "CLOCK": lambda: NOW, "EVIDENCE_DIR": files})
    with app.app_context():
        get_db().upgrade()
    rng = random.Random(2026)
    for code, zone in ZONES.items():
        api.add_branch(app, code, zone)
        push_tickets(app, *make_tickets(code, rng), code=code)
    with app.app_context():
        scan_flags(NOW, full=True)
        assert monthly_analysis(NOW).changed == 1  # November 2026
    add_user(app, "analyst", HEAD_OFFICE)
    app.config["HQ_TOKEN"] = api.add_head_office(app, "hq-api")
    yield app
    with app.app_context():
        get_db().dispose()
    if name:
        api._drop_postgres_database(name)


@pytest.fixture(scope="module")
def analyst(desk: Flask) -> FlaskClient:
    client = desk.test_client()
    sign_in(client, "analyst")
    return client


# --- independent counts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    code: str
    at: datetime
    day: date
    """The local day of receipt in the branch's zone."""
    status: str
    cancelled: bool
    level: str
    flags: frozenset[str]
    group: str
    basis: tuple[str, ...]
    department: str
    contact: str
    resolved: bool
    grade: str
    plan_on_time: bool | None
    """A plan communicated within 24 elapsed hours of receipt (or of reopening); None: no plan yet."""


def plan_on_time(t: TicketRow) -> bool | None:
    """The major plan's deadline written out: 24 hours of elapsed time, weekends and nights included."""
    if t.plan_at is None:
        return None
    return t.plan_at <= (t.reopened_at or t.received_at) + timedelta(hours=24)


def stored(app: Flask) -> list[Stored]:
    with app.app_context(), get_db().read() as session:
        rows = session.execute(select(TicketRow, BranchRow.code, BranchRow.timezone).join(BranchRow)).all()
        return [
            Stored(
                code,
                t.received_at,
                t.received_at.astimezone(ZoneInfo(zone)).date(),
                t.status,
                t.status == "cancelled" or t.cancelled_at is not None,
                t.level,
                frozenset(f for f in (t.flags or "").split(",") if f),
                t.group_id.strip(),
                tuple(t.level_basis.split(",")),
                t.department.strip(),
                t.contact,
                t.resolved_at is not None,
                t.grade or "",
                plan_on_time(t),
            )
            for t, code, zone in rows
        ]


def live(t: Stored) -> bool:
    return not t.cancelled


COUNTS = {
    "received": live,
    "cancelled": lambda t: t.cancelled,
    "unfinished": lambda t: live(t) and t.status != "revisited",
    "overdue": lambda t: live(t) and bool(t.flags & OVERDUE),
    "revisit_due": lambda t: live(t) and bool(t.flags & {"REVISIT_DUE", "REVISIT_OVERDUE"}),
    "red": lambda t: live(t) and t.level == "red",
    "yellow": lambda t: live(t) and t.level == "yellow",
    "repeat_tickets": lambda t: live(t) and "REPEAT" in t.basis,
    "group_tickets": lambda t: live(t) and t.group != "",
    "major": lambda t: live(t) and t.grade == "major",
    **{f"status_{s}": (lambda t, s=s: live(t) and t.status == s) for s in STATUSES},
}
"""What each count of tickets counts, written out from the definitions."""


def expected(tickets: list[Stored], days: Days, codes: tuple[str, ...]) -> dict[str, int]:
    mine = [t for t in tickets if days.first <= t.day <= days.last and (not codes or t.code in codes)]
    found = {key: sum(1 for t in mine if keep(t)) for key, keep in COUNTS.items()}
    repeats = [t for t in mine if COUNTS["repeat_tickets"](t)]
    found["repeat_customers"] = len({t.contact[-11:] for t in repeats})
    found["group_incidents"] = len({t.group for t in mine if COUNTS["group_tickets"](t)})
    received = [t for t in mine if live(t)]
    found["resolution"] = f"{sum(t.resolved for t in received)}/{len(received)}"  # type: ignore[assignment]
    planned = [t.plan_on_time for t in mine if COUNTS["major"](t) and t.plan_on_time is not None]
    found["major_plan"] = f"{sum(planned)}/{len(planned)}"  # type: ignore[assignment]
    return found


# --- reading the page, the lists and the workbook ----------------------------------------------------


@dataclass
class Shown:
    """An element of the page marked with ``data-figure``: where, its texts by class, its link."""

    heading: str
    row: str
    key: str
    link: str = ""
    texts: dict[str, str] = field(default_factory=lambda: defaultdict(str))

    @property
    def value(self) -> str:
        return (self.texts.get("tile-value") or self.texts.get("num") or self.texts[""]).strip()

    @property
    def label(self) -> str:
        return self.texts.get("tile-label", "").strip()


class Page(HTMLParser):
    """The figures of an overview page: tiles (no heading), statuses, work and KPI tables by heading."""

    VOID = frozenset({"input", "br", "meta", "link", "img", "hr"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.heading = self.row = ""
        self.headers: dict[str, list[str]] = defaultdict(list)
        self.found: list[Shown] = []
        self._stack: list[tuple[str, str]] = []  # (tag, class)
        self._figure: tuple[Shown, int] | None = None
        self._reading: str | None = None  # "h2", "row" or "th"
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in self.VOID:
            return
        self._stack.append((tag, a.get("class") or ""))
        if tag == "h2":
            self._reading, self._text = "h2", ""
        elif tag == "th":
            self._reading, self._text = ("row" if a.get("scope") == "row" else "th"), ""
        if "data-figure" in a and self._figure is None:
            shown = Shown(self.heading, self.row, a["data-figure"] or "", a.get("href") or "")
            self._figure = (shown, len(self._stack))
            self.found.append(shown)
        elif tag == "a" and self._figure is not None and not self._figure[0].link:
            self._figure[0].link = a.get("href") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if self._figure is not None and len(self._stack) == self._figure[1]:
            self._figure = None
        if tag == "h2" and self._reading == "h2":
            self.heading, self._reading = self._text.strip(), None
        elif tag == "th" and self._reading == "row":
            self.row, self._reading = self._text.strip(), None
        elif tag == "th" and self._reading == "th":
            self.headers[self.heading].append(self._text.strip())
            self._reading = None
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._reading:
            self._text += data
        if self._figure is not None:
            css = self._stack[-1][1] if len(self._stack) > self._figure[1] else ""
            self._figure[0].texts[css.split()[0] if css else ""] += data

    def where(self, heading: str) -> list[Shown]:
        return [s for s in self.found if s.heading == heading]


_TOTAL = re.compile(r"共 (\d+) 条|(\d+) tickets")
_PHONE = re.compile(r"(?<![0-9a-f])1[3-9]\d{9}(?![0-9a-f])")
"""A mobile number, not inside a longer number or a sync key (hex)."""


def list_total(client: FlaskClient, link: str, seen: dict[str, int]) -> int:
    """How many tickets the list at ``link`` announces; its page shows no full phone number."""
    if link not in seen:
        response = client.get(link)
        assert response.status_code == 200, (link, response.text[:500])
        assert not _PHONE.search(response.text), "a phone number is shown to head office"
        total = _TOTAL.search(response.text)
        assert total, link
        seen[link] = int(total[1] or total[2])
    return seen[link]


def workbook(client: FlaskClient, token: str, days: Days, codes: tuple[str, ...], lang: str) -> Any:
    response = client.get(
        "/api/consolidated",
        query_string={
            "start": days.first.isoformat(),
            "end": (days.last + timedelta(days=1)).isoformat(),
            "branches": ",".join(codes),
            "lang": lang,
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return openpyxl.load_workbook(io.BytesIO(response.data))


def kpi_sheet(book: Any, first: str = "受理量") -> tuple[str, dict[str, dict[str, Any]], list[str]]:
    """The KPI sheet's period, its rows (name → column → value) and its columns, in order.

    ``first`` is the name of the first column.
    """
    ws = book.worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    header = next(r for r in rows if r[1] == first)
    table = {r[0]: dict(zip(header[1:], r[1:], strict=False)) for r in rows if r[0] and r[1] is not None}
    return rows[1][1], table, [h for h in header[1:] if h]


def shown_number(text: str) -> float | None:
    """A number of a page as the workbook holds it: 12.5% → 0.125, — → None."""
    text = text.strip()
    if text == "—":
        return None
    if text.endswith("%"):
        return round(float(text[:-1]) / 100, 3)
    return float(text)


def cell_number(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


# --- the checks -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("choice", list(CHOICES))
@pytest.mark.parametrize("period", list(PERIODS))
def test_every_figure_equals_its_list_its_definition_and_its_workbook_cell(
    desk: Flask, analyst: FlaskClient, period: str, choice: str
) -> None:
    days, codes = PERIODS[period], CHOICES[choice]
    query = {"from": days.first.isoformat(), "to": days.last.isoformat(), "branch": list(codes)}
    html = analyst.get("/dashboard/", query_string=query).text
    page = Page(html)
    want = expected(stored(desk), days, codes)
    assert want["received"] and want["cancelled"] + want["overdue"] + want["yellow"] > 0  # never vacuous
    assert days.shown in html

    # the tiles and the status counts: each list holds as many tickets, each count is its definition
    seen: dict[str, int] = {}
    tiles = {s.key: s for s in page.where("")}
    statuses = {s.key: s for s in page.where("按状态")}
    for key, shown in {**tiles, **statuses}.items():
        if shown.link:
            assert list_total(analyst, shown.link, seen) == int(shown.value), (key, shown.link)
        if key in want and key not in ("resolution", "major_plan"):
            assert shown.value == str(want[key]), key
    assert tiles["resolution"].texts["tile-detail"].strip() == want["resolution"]
    assert tiles["major_plan"].texts["tile-detail"].strip() == want["major_plan"]
    assert tiles["major"].link  # the major cases' list, checked above to hold as many
    assert sum(int(s.value) for s in statuses.values()) == want["received"] + want["cancelled"]
    assert not tiles["group_incidents"].link and not tiles["repeat_customers"].link

    # unfinished and overdue work, and every count of the KPI tables, per branch and per department
    tables = [*page.where("未完结与超时：按分支机构"), *page.where("未完结与超时：按责任部门")]
    tables += [*page.where("分支机构指标"), *page.where("部门指标")]
    assert tables
    for shown in tables:
        if shown.link:
            assert list_total(analyst, shown.link, seen) == int(shown.value), (shown.row, shown.key)
    by_branch = {s.row: s for s in page.where("未完结与超时：按分支机构") if s.key == "overdue"}
    for code in codes or ZONES:
        own = expected(stored(desk), days, (code,))
        if own["unfinished"] or own["overdue"]:
            assert by_branch[code].value == str(own["overdue"]), code

    # the consolidated workbook: the same period, names and numbers; ticket sheets of those sizes
    book = workbook(analyst, desk.config["HQ_TOKEN"], days, codes, "zh")
    printed, sheet, header = kpi_sheet(book)
    assert printed == days.shown
    assert page.headers["分支机构指标"][1:] == header  # one name per figure, in the same order
    for shown in [*page.where("分支机构指标"), *page.where("部门指标")]:
        column = column_of(page, shown)
        assert cell_number(sheet[shown.row][column]) == shown_number(shown.value), (shown.row, column)
    for key, shown in tiles.items():
        if shown.label in sheet["合计"]:
            assert cell_number(sheet["合计"][shown.label]) == shown_number(shown.value), key
    assert sheet["合计"]["重大投诉单"] == want["major"]
    hits, total = (int(n) for n in str(want["major_plan"]).split("/"))
    assert cell_number(sheet["合计"]["重大方案及时率"]) == (round(hits / total, 3) if total else None)
    sizes = {ws.title: ws.max_row - 1 for ws in book.worksheets[2:]}
    assert sizes["全部投诉"] == want["received"] + want["cancelled"]
    assert sizes["超时投诉"] == want["overdue"]
    assert sizes["红黄预警"] == want["red"] + want["yellow"]
    assert sizes["待回访"] == want["revisit_due"]
    book.close()


def column_of(page: Page, shown: Shown) -> str:
    """The name of a KPI table cell's column, found by the cell's place in its row."""
    row = [s for s in page.where(shown.heading) if s.row == shown.row]
    return page.headers[shown.heading][1:][row.index(shown)]


def test_names_and_the_period_read_the_same_in_english(desk: Flask) -> None:
    client = desk.test_client()
    sign_in(client, "analyst")
    days = PERIODS["across the month end"]
    query = {"from": days.first.isoformat(), "to": days.last.isoformat(), "lang": "en"}
    page = Page(client.get("/dashboard/", query_string=query).text)
    book = workbook(client, desk.config["HQ_TOKEN"], days, (), "en")
    printed, sheet, header = kpi_sheet(book, "Complaints received")
    assert printed == days.shown
    assert page.headers["KPIs by branch"][1:] == header
    tiles = {s.label: s.value for s in page.where("")}
    assert {"Complaints received", "Group complaint tickets", "Major cases", "Major plans on time"} <= set(
        tiles
    )
    for label, value in tiles.items():
        assert cell_number(sheet["Overall"][label]) == shown_number(value), label


def test_the_monthly_analysis_shows_the_dashboards_november(desk: Flask, analyst: FlaskClient) -> None:
    days = PERIODS["a month"]
    query = {"from": days.first.isoformat(), "to": days.last.isoformat()}
    page = Page(analyst.get("/dashboard/", query_string=query).text)
    with desk.app_context(), get_db().read() as session:
        row = session.scalars(select(ReportRow).where(ReportRow.period == "2026-11")).one()
        with open_kept(row, evidence_store()) as content:
            book = openpyxl.load_workbook(content)
    printed, sheet, header = kpi_sheet(book)
    assert printed == days.shown
    assert page.headers["分支机构指标"][1:] == header
    for shown in page.where("分支机构指标"):
        column = column_of(page, shown)
        assert cell_number(sheet[shown.row][column]) == shown_number(shown.value), (shown.row, column)
    assert {s.row for s in page.where("分支机构指标")} == {"合计", *ZONES}


def test_the_figures_do_not_hang_on_the_generated_data(desk: Flask) -> None:
    """Every case the figures test relies on is in the data: else it could pass without checking them."""
    tickets = stored(desk)
    november = expected(tickets, PERIODS["a month"], ())
    london = expected(tickets, PERIODS["one day"], ("LD01",))
    assert min(november[k] for k in ("cancelled", "overdue", "red", "yellow", "revisit_due")) > 0
    assert november["group_tickets"] >= 3 and november["repeat_tickets"] >= 2
    assert november["status_reinvestigating"] > 0 and london["received"] > 0
    # major cases with their plan on time and late (24 elapsed hours), and some with no plan yet
    majors = [t for t in tickets if COUNTS["major"](t) and t.day.month == 11]
    assert {True, False, None} <= {t.plan_on_time for t in majors}
    # tickets whose day in London is not their day in Shanghai
    shanghai = ZoneInfo("Asia/Shanghai")
    assert any(t.code == "LD01" and t.at.astimezone(shanghai).date() != t.day for t in tickets)
    assert any(
        t.code == "SZ01" and t.at.astimezone(ZoneInfo("Europe/London")).date() != t.day for t in tickets
    )


def _section(book: Any, title: str) -> dict[str, Any]:
    """The overall column of a table of the monthly analysis sheet: label → value."""
    rows = list(book["月度分析"].iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == title) + 2
    found = {}
    for r in rows[start:]:
        if r[0] is None:
            break
        found[r[0]] = r[1]
    return found


def test_the_fishbone_counts_and_measure_states_are_the_same_on_the_dashboard_and_in_the_workbook(
    desk: Flask, analyst: FlaskClient
) -> None:
    days = PERIODS["a month"]
    query = {"from": days.first.isoformat(), "to": days.last.isoformat()}
    page = Page(analyst.get("/dashboard/", query_string=query).text)
    fishbone = {s.row: int(s.value) for s in page.where("根因类别（鱼骨图）")}
    measures = {s.row: int(s.value) for s in page.where("改进措施状态")}
    # independently: live tickets received in the month (each branch's local days)
    with desk.app_context(), get_db().read() as session:
        rows = session.execute(
            select(TicketRow.received_at, TicketRow.fishbone, TicketRow.measure_status, TicketRow.flags)
            .add_columns(BranchRow.timezone)
            .join(BranchRow)
            .where(TicketRow.cancelled_at.is_(None))
            .where(TicketRow.received_at >= datetime(2026, 10, 31, tzinfo=UTC))
        ).all()
    mine = [
        r for r in rows if days.first <= r.received_at.astimezone(ZoneInfo(r.timezone)).date() <= days.last
    ]
    assert fishbone["网络"] == sum(1 for r in mine if r.fishbone == "network") > 0
    assert fishbone["流程"] == sum(1 for r in mine if r.fishbone == "process") > 0
    assert measures["进行中"] == sum(1 for r in mine if r.measure_status == "in_progress")
    assert measures["改进措施超时"] == sum(1 for r in mine if "MEASURE_OVERDUE" in (r.flags or ""))

    book = workbook(analyst, desk.config["HQ_TOKEN"], days, (), "zh")
    assert _section(book, "根因类别（鱼骨图）") == fishbone
    in_book = _section(book, "改进措施状态")
    for state in ("计划中", "进行中", "已完成", "已放弃"):
        assert in_book[state] == measures[state], state
    assert in_book["超时未完成"] == measures["改进措施超时"]
    assert in_book["已完成·观察期"] == measures["改进措施观察期"]
    assert in_book["已完成·已见效"] == measures["已见效"]
    book.close()
