"""The database's counts equal the per-ticket reference, figure by figure, on generated histories.

The figures of the overview, the KPI sheet and the monthly analysis come from
`server.storage.figures` (GROUP BY over stored columns); `reference_analysis`
decodes every ticket and counts it with `complaints.kpis`. Generated tickets of
branches in Shanghai and London (cancelled, reopened for a second
investigation, red, yellow, group incidents, repeat complaints, major cases
with their plan on time, late or not yet communicated, received minutes before
and after local midnight) go in through the branch sync and the
flag scan; then for periods and branch choices drawn by Hypothesis the two
analyses must be equal: overall, per branch, per department and per trend month.
"""

from __future__ import annotations

import dataclasses
import os
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic import command
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from complaints import figures
from complaints.enums import Fishbone, MeasureStatus
from complaints.kpis import Kpis
from complaints.model import Ticket
from complaints.periods import Period
from complaints.staff import STAFF_FIGURES
from server import create_app
from server.scheduling.scan import scan_flags
from server.services.analysis import Analysis, analyse, reference_analysis
from server.services.people import reference_staff_figures, staff_figures
from server.storage.db import alembic_config, get_db
from server.storage.figures import (
    COUNTS,
    DEPARTMENTS,
    PEOPLE_FAMILY,
    STAFF_COUNTS,
    breakdown,
    fill_figure_rows,
)
from server.storage.models import (
    BranchRow,
    TicketRow,
    figure_days_table,
    figure_dekads_table,
    figure_done_table,
    figure_marks_table,
    figure_months_table,
    figures_table,
    tickets_table,
)
from server.storage.rollup import DayCounts, forget_days, mark_days
from server.storage.rows import row_to_ticket
from tests.server.api import conftest as api
from tests.server.jobs.conftest import push_tickets
from tests.server.test_head_office_figures import NOW, ZONES, make_tickets

SEEDS = (7, 2027)


@pytest.fixture(scope="module", params=[(db, seed) for db in ("sqlite", "postgresql") for seed in SEEDS])
def desk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Three branches (two zones) with generated tickets, synced and scanned at the pinned `NOW`."""
    kind, seed = request.param
    name = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('byDatabase') / 'figures.db'}"
    elif api._postgres_available():
        url, name = api._fresh_postgres_database()
    elif os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {api.PG_ADMIN_URL}")
    else:
        pytest.skip("PostgreSQL not reachable")
    # a short recurrence window, so that measures are effective, recurred and still watched at `NOW`
    config = {
        "TESTING": True,
        "DATABASE_URL": url,
        "CLOCK": lambda: NOW,
        "SLA_POLICY": {"recurrence_days": 10},
    }
    app = create_app(config)
    with app.app_context():
        get_db().upgrade()
    rng = random.Random(seed)
    for code, zone in ZONES.items():
        api.add_branch(app, code, zone)
        push_tickets(app, *make_tickets(code, rng), code=code)
    with app.app_context():
        scan_flags(NOW, full=True)
    yield app
    with app.app_context():
        get_db().dispose()
    if name:
        api._drop_postgres_database(name)


def both(app: Flask, period: Period, branches: list[str] | None) -> tuple[Analysis, Analysis]:
    with app.app_context(), get_db().read() as session:
        return (
            analyse(session, branches, period, trend_months=3),
            reference_analysis(session, branches, period, trend_months=3),
        )


def assert_same(got: Kpis, want: Kpis, where: str) -> None:
    """Every figure and every count behind it (profiles, rates with unknowns, causes, satisfaction)."""
    for figure in figures.TABLE:
        assert figure.value(got) == figure.value(want), f"{figure.key} of {where}"
    assert got == want, where


def assert_same_staff(app: Flask, period: Period, branches: list[str] | None) -> None:
    """The per-staff figures counted by the database equal those counted ticket by ticket."""
    with app.app_context(), get_db().read() as session:
        got = staff_figures(session, branches, period)
        want = reference_staff_figures(session, branches, period)
    assert [s.key for s in got] == [s.key for s in want]
    for mine, theirs in zip(got, want, strict=True):
        for figure in STAFF_FIGURES:
            assert figure.value(mine) == figure.value(theirs), f"{figure.key} of {theirs.key}"


def assert_equal(got: Analysis, want: Analysis) -> None:
    assert_same(got.kpis.overall, want.kpis.overall, "overall")
    assert got.kpis.by_branch.keys() == want.kpis.by_branch.keys()
    assert got.kpis.by_department.keys() == want.kpis.by_department.keys()
    for code, k in want.kpis.by_branch.items():
        assert_same(got.kpis.by_branch[code], k, f"branch {code}")
    for dept, k in want.kpis.by_department.items():
        assert_same(got.kpis.by_department[dept], k, f"department {dept!r}")
    assert got.kpis.by_month.keys() == want.kpis.by_month.keys()
    for month, k in want.kpis.by_month.items():
        assert_same(got.kpis.by_month[month], k, f"month {month}")
    assert got.types == want.types and got.root_causes == want.root_causes


CHOICES = (None, ["LD01"], ["SZ01", "LD01"], ["GZ01"])


@settings(
    max_examples=12,
    deadline=None,
    phases=[
        Phase.explicit,
        Phase.reuse,
        Phase.generate,
    ],  # each example reads the database twice: no shrinking
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    first=st.dates(date(2026, 10, 20), date(2026, 12, 5)),
    days=st.integers(1, 45),
    choice=st.sampled_from(CHOICES),
)
def test_every_figure_counted_by_the_database_equals_the_per_ticket_count(
    desk: Flask, first: date, days: int, choice: list[str] | None
) -> None:
    got, want = both(desk, Period(first, first + timedelta(days=days)), choice)
    assert_equal(got, want)
    assert_same_staff(desk, Period(first, first + timedelta(days=days)), choice)


@pytest.mark.parametrize(
    "period",
    [
        Period.month(2026, 11),
        Period.days(date(2026, 11, 28), date(2026, 12, 3)),
        Period.month(2026, 12),
    ],
    ids=["november", "across the month end", "december"],
)
def test_the_months_and_the_periods_heads_office_reads_count_the_same(desk: Flask, period: Period) -> None:
    got, want = both(desk, period, None)
    assert want.kpis.overall.closed_loop.total and want.kpis.overall.satisfaction.total
    assert want.kpis.overall.repeat_customers and want.kpis.overall.groups
    assert_equal(got, want)
    assert_same_staff(desk, period, None)


@pytest.mark.parametrize(
    "period",
    [Period.days(date(2026, 11, 2), date(2026, 11, 29)), Period.days(date(2026, 10, 23), date(2026, 12, 8))],
    ids=["dekads less their first and last day", "dekads and a month"],
)
def test_periods_read_from_dekads_less_the_days_outside_count_the_same(desk: Flask, period: Period) -> None:
    """A dekad mostly inside the period is read from its sum less its days outside (stored or fresh)."""
    both(desk, Period(date(2026, 10, 1), date(2027, 1, 1)), None)  # every day rolled up
    with desk.app_context(), get_db().write() as session:  # a day outside the period, one inside: stale
        branch_id = session.scalar(select(BranchRow.id).where(BranchRow.code == "SZ01"))
        mark_days(session.connection(), branch_id, [period.first - timedelta(days=1), period.first])
    got, want = both(desk, period, None)
    assert want.kpis.overall.received and want.kpis.overall.closed_loop.total
    assert_equal(got, want)
    assert_same_staff(desk, period, ["SZ01"])


def test_measures_are_effective_recurred_and_watched_and_counted_the_same(desk: Flask) -> None:
    """The generated histories judge measures every way, so the equality above is not vacuous."""
    with desk.app_context(), get_db().read() as session:
        effects = dict(
            session.execute(
                select(tickets_table.c.effect, func.count()).group_by(tickets_table.c.effect)
            ).all()
        )
    assert {"effective", "recurred", "watching"} <= set(effects), effects
    got, want = both(desk, Period(date(2026, 10, 20), date(2026, 12, 5)), None)
    improvement = want.kpis.overall.improvement
    assert improvement.hits and improvement.total > improvement.hits and improvement.unknown
    assert want.kpis.overall.measures_overdue
    assert want.kpis.overall.fishbone[Fishbone.NETWORK] and want.kpis.overall.measures[MeasureStatus.DONE]
    assert_equal(got, want)


def test_major_cases_with_plans_on_time_and_late_are_counted_the_same(desk: Flask) -> None:
    """The generated major cases have plans on time and late (24 elapsed hours): the equality holds them."""
    with desk.app_context(), get_db().read() as session:
        outcomes = dict(
            session.execute(
                select(figures_table.c.plan_met, func.count())
                .where(figures_table.c.major.is_(True), figures_table.c.cancelled.is_(False))
                .group_by(figures_table.c.plan_met)
            ).all()
        )
    assert outcomes.get(1) and outcomes.get(0) and outcomes.get(None), outcomes
    got, want = both(desk, Period(date(2026, 10, 20), date(2026, 12, 5)), None)
    major_plan = want.kpis.overall.major_plan
    assert want.kpis.overall.major > major_plan.total > major_plan.hits > 0
    assert_equal(got, want)


def test_the_figures_are_written_with_every_change_and_refilled_by_the_backfill(desk: Flask) -> None:
    """The service writes each ticket's figure row; the migration's backfill writes the same rows again."""
    period = Period.month(2026, 11)
    rows = select(figures_table).order_by(figures_table.c.sync_key)
    with desk.app_context():
        with get_db().read() as session:
            written = session.execute(rows).all()
            tickets = session.scalar(select(func.count()).select_from(tickets_table))
            want = reference_analysis(session, None, period)
        assert len(written) == tickets
        with get_db().write() as session:  # deleted around the service: its rolled-up days go too
            session.execute(delete(figures_table))
            forget_days(session.connection())
        with get_db().read() as session:
            assert analyse(session, None, period).kpis.overall.received == 0
        with get_db().write() as session:
            assert fill_figure_rows(session.connection(), None) == tickets
        with get_db().read() as session:
            assert session.execute(rows).all() == written
            assert_equal(analyse(session, None, period), want)


def _reopened(app: Flask, code: str, how_many: int) -> list[Ticket]:
    """Closed tickets of branch ``code`` sent back to the investigation: their later moments are emptied."""
    with app.app_context(), get_db().read() as session:
        rows = session.scalars(
            select(TicketRow)
            .join(BranchRow)
            .where(BranchRow.code == code, TicketRow.closed_at.is_not(None))
            .order_by(TicketRow.ticket_id)
            .limit(how_many)
        ).all()
        tickets = [row_to_ticket(row, code) for row in rows]
    assert tickets
    empty = dict.fromkeys(("resolved_at", "feedback_at", "closed_at", "revisited_at", "satisfaction"))
    return [dataclasses.replace(t, **empty) for t in tickets]


def _rolled_up_days(app: Flask) -> int:
    with app.app_context(), get_db().read() as session:
        return session.scalar(select(func.count()).select_from(figure_done_table)) or 0


def test_a_sync_after_the_days_were_rolled_up_is_counted_at_once(desk: Flask) -> None:
    """The days are kept rolled up; new tickets and reopened ones (their moments emptied) show at once."""
    period = Period(date(2026, 10, 20), date(2026, 12, 5))
    assert_equal(*both(desk, period, None))
    assert _rolled_up_days(desk) >= (period.end - period.first).days * len(ZONES)
    push_tickets(desk, *make_tickets("SZ01", random.Random(99)), code="SZ01")
    push_tickets(desk, *_reopened(desk, "LD01", 3), code="LD01")
    with desk.app_context(), get_db().read() as session:
        assert session.scalar(select(func.count()).select_from(figure_marks_table))
    for month in (period, Period.month(2026, 11), Period.days(date(2026, 11, 28), date(2026, 12, 3))):
        assert_equal(*both(desk, month, None))
        assert_equal(*both(desk, month, ["LD01"]))
        assert_same_staff(desk, month, None)


def test_a_reader_with_an_older_snapshot_never_stores_over_a_newer_count(desk: Flask) -> None:
    """Two workers count the same days around a sync: the one that read before it keeps nothing stale."""
    period = Period.month(2026, 11)
    with desk.app_context():
        db = get_db()
        with db.write() as session:
            forget_days(session.connection())
            zones: dict[str, list[int]] = {}
            for branch_id, zone in session.execute(select(BranchRow.id, BranchRow.timezone)):
                zones.setdefault(zone, []).append(branch_id)
        with db.read() as older:  # read before the sync, stored after it: its days stay marked
            early = DayCounts.read(older, DEPARTMENTS, COUNTS, zones, period)
            push_tickets(desk, *make_tickets("GZ01", random.Random(11)), code="GZ01")
            assert early.store(db.engine) == len(early.fresh)
        assert_equal(*both(desk, period, None))
        push_tickets(desk, *make_tickets("GZ01", random.Random(12)), code="GZ01")
        with db.read() as older:  # read before a sync, stored after a newer reader's: it stores nothing
            early = DayCounts.read(older, DEPARTMENTS, COUNTS, zones, period)
            push_tickets(desk, *_reopened(desk, "GZ01", 2), code="GZ01")
            assert_equal(*both(desk, period, None))
            assert early.fresh and early.store(db.engine) == 0
        assert_equal(*both(desk, period, None))
        assert_equal(*both(desk, period, ["GZ01"]))


def _handed_over(app: Flask, code: str, how_many: int) -> list[Ticket]:
    """Tickets of branch ``code`` handed to another coordinator, nothing else changed."""
    with app.app_context(), get_db().read() as session:
        rows = session.scalars(
            select(TicketRow)
            .join(BranchRow)
            .where(BranchRow.code == code, TicketRow.coordinator == "张三")
            .order_by(TicketRow.ticket_id)
            .limit(how_many)
        ).all()
        tickets = [row_to_ticket(row, code) for row in rows]
    assert tickets
    return [dataclasses.replace(t, coordinator="赵六") for t in tickets]


def test_a_later_scan_and_a_new_coordinator_after_the_days_were_rolled_up_are_counted_at_once(
    desk: Flask,
) -> None:
    """A branch hands tickets to another coordinator (their figures rows unchanged), and days later the
    scan turns tickets overdue: the figures and the staff figures of the rolled-up days follow at once."""
    period = Period(date(2026, 10, 20), date(2026, 12, 5))
    overdue = select(func.count()).where(figures_table.c.overdue.is_(True))
    assert_equal(*both(desk, period, None))
    assert_same_staff(desk, period, None)
    push_tickets(desk, *_handed_over(desk, "LD01", 4), code="LD01")
    assert_same_staff(desk, period, None)
    assert_same_staff(desk, period, ["LD01"])
    with desk.app_context():
        with get_db().read() as session:
            before = session.scalar(overdue)
        assert scan_flags(NOW + timedelta(days=4)).written
        with get_db().read() as session:
            assert (session.scalar(overdue) or 0) > (before or 0)
    for month in (period, Period.month(2026, 11)):
        assert_equal(*both(desk, month, None))
        assert_equal(*both(desk, month, ["SZ01"]))
        assert_same_staff(desk, month, None)


def test_the_migration_marks_the_major_cases_of_the_figures_already_stored(desk: Flask) -> None:
    """Upgrading a database of 0014 marks each stored figures row major from its ticket's grade."""
    period = Period(date(2026, 10, 20), date(2026, 12, 5))
    rows = select(figures_table).order_by(figures_table.c.sync_key)
    with desk.app_context():
        db = get_db()
        with db.read() as session:
            written = session.execute(rows).all()
            want = reference_analysis(session, None, period)
        db.dispose()
        command.downgrade(alembic_config(db.url), "0014_paging")
        db.upgrade()
        with db.read() as session:
            assert session.execute(rows).all() == written
            assert_equal(analyse(session, None, period), want)
    assert want.kpis.overall.major


def test_an_upgrade_copies_the_staff_names_and_rolls_every_day_up_before_anyone_reads(desk: Flask) -> None:
    """From 0019 (no names in the figures rows, no day rolled up) the upgrade fills both: the first read
    after it counts no day again, and its figures and staff figures equal those counted ticket by ticket."""
    period = Period(date(2026, 10, 20), date(2026, 12, 5))
    rows = select(figures_table).order_by(figures_table.c.sync_key)
    with desk.app_context():
        db = get_db()
        with db.read() as session:
            written = session.execute(rows).all()
        db.dispose()
        command.downgrade(alembic_config(db.url), "0019_reportfiles")
        with db.engine.begin() as connection:  # no day rolled up at 0019 (its tables: 0018's three)
            for table in (figure_days_table, figure_done_table, figure_marks_table):
                connection.execute(table.delete())
        db.upgrade()
        with db.read() as session:
            assert session.execute(rows).all() == written
            zones: dict[str, list[int]] = {}
            for branch_id, zone in session.execute(select(BranchRow.id, BranchRow.timezone)):
                zones.setdefault(zone, []).append(branch_id)
            for family, counts in ((DEPARTMENTS, COUNTS), (PEOPLE_FAMILY, STAFF_COUNTS)):
                assert DayCounts.read(session, family, counts, zones, period).fresh == {}
    assert {r.coordinator.strip() for r in written} >= {"张三", "李四", "王五"}
    assert_equal(*both(desk, period, None))
    assert_same_staff(desk, period, None)
    assert_same_staff(desk, period, ["LD01"])


def test_the_upgrade_sums_the_days_already_rolled_up_by_month_and_dekad(desk: Flask) -> None:
    """From 0021 (days rolled up, no sums) the upgrade sums every stored day by month and by dekad: whole
    months (November, October) and whole dekads (11-20 November) are then read from the sums, with the
    same figures as ticket by ticket, also after a Sync marks one of their days."""
    period = Period(date(2026, 10, 1), date(2026, 12, 1))
    part = Period(date(2026, 11, 10), date(2026, 11, 22))
    with desk.app_context():
        db = get_db()
        with db.read() as session:
            breakdown(session, {"SZ01": "Asia/Shanghai"}, period)  # some days stored before
        db.dispose()
        command.downgrade(alembic_config(db.url), "0021_searchplace")
        command.upgrade(alembic_config(db.url), "head")
        with db.read() as session:
            months = session.execute(select(figure_months_table.c.month).distinct()).scalars().all()
            assert date(2026, 11, 1) in months
            dekads = set(session.execute(select(figure_dekads_table.c.dekad).distinct()).scalars())
            assert {date(2026, 11, 1), date(2026, 11, 11), date(2026, 11, 21)} <= dekads
    for read in (period, part):
        assert_equal(*both(desk, read, None))
        assert_equal(*both(desk, read, ["SZ01"]))
    with desk.app_context(), get_db().write() as session:  # as after a Sync: one day of November marked
        branch_id = session.scalar(select(BranchRow.id).where(BranchRow.code == "SZ01"))
        mark_days(session.connection(), branch_id, [date(2026, 11, 18)])
    assert_equal(*both(desk, part, None))
    assert_equal(*both(desk, period, None))


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_from_before_the_figures_table_is_upgraded_with_every_ticket_counted(
    kind: str, tmp_path: Path
) -> None:
    """Branches and tickets stored before migration 0006: the upgrade to the head fills their figures rows."""
    name = None
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    elif api._postgres_available():
        url, name = api._fresh_postgres_database()
    else:
        pytest.fail(f"PostgreSQL not reachable at {api.PG_ADMIN_URL}")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "CLOCK": lambda: NOW})
    with app.app_context():
        db = get_db()
        db.upgrade()
    for code, zone in ZONES.items():
        api.add_branch(app, code, zone)
        push_tickets(app, *make_tickets(code, random.Random(5)), code=code)
    period = Period(date(2026, 10, 20), date(2026, 12, 5))
    try:
        with app.app_context():
            db.dispose()
            command.downgrade(alembic_config(db.url), "0005")
            db.upgrade()
            with db.read() as session:
                tickets = session.scalar(select(func.count()).select_from(tickets_table))
                rows = session.scalar(select(func.count()).select_from(figures_table))
                assert rows == tickets > 0
                assert_equal(analyse(session, None, period), reference_analysis(session, None, period))
            db.dispose()
    finally:
        if name:
            api._drop_postgres_database(name)
