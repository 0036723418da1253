"""The consolidated workbook's staff sheet: each coordinator's and investigator's KPIs, as the dashboard's."""

from __future__ import annotations

import io

import openpyxl
import pytest
from flask import Flask
from sqlalchemy import select, update

from complaints.kpis import compute_kpis
from complaints.periods import Period
from complaints.staff import STAFF_FIGURES, StaffRole
from server.services.consolidated import ConsolidateOptions, build_consolidated
from server.services.people import staff_figures
from server.storage.db import get_db
from server.storage.lean import stream_lean_tickets
from server.storage.models import figures_table, tickets_table
from server.storage.rollup import forget_days
from server.storage.rows import clock_for
from server.xlsx.consolidate import STAFF_TITLE
from tests.server.consolidate.conftest import NOW

NOVEMBER = Period.month(2026, 11)
NAMED = "张工 13812345678"
"""An investigator typed with a phone number: masked in the sheet for everyone but an administrator."""


def build(app: Flask, **options: object) -> openpyxl.Workbook:
    values: dict[str, object] = {"branches": None, "period": NOVEMBER, "generated_at": NOW, "workers": 0}
    values.update(options)
    target = io.BytesIO()
    with app.app_context():
        build_consolidated(get_db(), target, ConsolidateOptions(**values))  # type: ignore[arg-type]
    return openpyxl.load_workbook(io.BytesIO(target.getvalue()))


def name_one_investigator(app: Flask) -> None:
    with app.app_context(), get_db().write() as session:
        t = tickets_table.c
        key = session.scalar(
            select(t.sync_key).where(t.ticket_id.like("SZ01-202611%"), t.investigator != "").limit(1)
        )
        session.execute(update(tickets_table).where(t.sync_key == key).values(investigator=NAMED))
        # around the one service: its figures row too, and the rolled-up days are counted again
        f = figures_table.c
        session.execute(update(figures_table).where(f.sync_key == key).values(investigator=NAMED))
        forget_days(session.connection())


def test_the_staff_sheet_lists_each_persons_kpis_equal_to_their_tickets_figures(loaded: Flask) -> None:
    ws = build(loaded, lang="en")[STAFF_TITLE["en"]]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("Role", "Branch", "Name", *(f.label("en") for f in STAFF_FIGURES))
    with loaded.app_context(), get_db().read() as session:
        expected = staff_figures(session, None, NOVEMBER)
        zones = {"SZ01": "Asia/Shanghai", "GZ01": "Asia/Shanghai", "FS01": "Asia/Shanghai"}
        tickets = list(stream_lean_tickets(session, zones, NOVEMBER))
    assert {p.key.role for p in expected} == set(StaffRole)
    assert len(rows) - 1 == len(expected) > 6
    clock = clock_for("Asia/Shanghai", None)
    for row, person in zip(rows[1:], expected, strict=True):
        key = person.key
        assert row[:3] == (key.role.label("en"), key.branch, key.name)
        field = "coordinator" if key.role is StaffRole.COORDINATOR else "investigator"
        theirs = [t for t in tickets if t.branch == key.branch and getattr(t, field) == key.name]
        assert person.kpis == compute_kpis(theirs, NOVEMBER, clock)  # the per-ticket definitions
        for value, figure in zip(row[3:], STAFF_FIGURES, strict=True):
            want = figure.value(person)
            want = want.rate if figure.rate else want
            assert value == (pytest.approx(want) if isinstance(want, float) else want), (key, figure.key)


@pytest.mark.parametrize(("show_phones", "shown"), [(False, "张工 138****5678"), (True, NAMED)])
def test_a_phone_number_in_a_staff_name_is_masked_but_for_an_administrator(
    loaded: Flask, show_phones: bool, shown: str
) -> None:
    name_one_investigator(loaded)

    ws = build(loaded, show_phones=show_phones)[STAFF_TITLE["zh"]]

    names = [r[2] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert shown in names
    assert (NAMED in names) is show_phones
