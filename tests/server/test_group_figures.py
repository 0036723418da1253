"""The group figures of head office (SQLite and PostgreSQL): the count of group incidents and the group
revisit rate, the same on the dashboard, in the consolidated workbook and counted by the database."""

from __future__ import annotations

import re
from datetime import date

from complaints import figures
from complaints.periods import Period
from server.auth import HEAD_OFFICE
from server.services.analysis import analyse, reference_analysis
from server.storage.db import get_db
from tests.server.api.conftest import add_head_office, app, database_url  # noqa: F401
from tests.server.dashboard.conftest import add_user, sign_in
from tests.server.dashboard.test_group_page import members, post
from tests.server.test_head_office_figures import Days, kpi_sheet, workbook

NOVEMBER = Days(date(2026, 11, 1), date(2026, 11, 30))


def tile(html: str, key: str) -> str:
    found = re.search(rf'data-figure="{key}">.*?<div class="tile-value">([^<]*)</div>', html, re.S)
    assert found, key
    return found[1]


def test_group_count_and_group_revisit_rate_are_head_office_figures(app):  # noqa: F811
    _, keys = members(app)
    token = add_head_office(app)
    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    sign_in(client, "analyst")
    assert (
        post(client, keys[0], "revisit", member=keys[0], satisfaction="fairly_satisfied").status_code == 302
    )
    # dissatisfied: escalated and reopened (its revisit time emptied), still one answer of the group revisit
    assert post(client, keys[0], "revisit", member=keys[1], satisfaction="dissatisfied").status_code == 302

    html = client.get("/dashboard/", query_string={"from": "2026-11-01", "to": "2026-11-30"}).text
    assert tile(html, "group_incidents") == "1"
    assert tile(html, "group_revisit") == "50.0%"
    assert "群体回访满意率" in html

    book = workbook(client, token, NOVEMBER, (), "zh")
    _, sheet, header = kpi_sheet(book)
    assert {"群体投诉事件", "群体回访满意率"} <= set(header)
    assert sheet["合计"]["群体投诉事件"] == 1
    assert sheet["合计"]["群体回访满意率"] == 0.5
    book.close()

    with app.app_context(), get_db().read() as session:
        got = analyse(session, None, Period.month(2026, 11)).kpis.overall
        want = reference_analysis(session, None, Period.month(2026, 11)).kpis.overall
    assert (got.group_revisit.hits, got.group_revisit.total, got.groups) == (1, 2, 1)
    assert figures.GROUP_REVISIT.value(got) == figures.GROUP_REVISIT.value(want) == 0.5
    assert got == want
