"""12 devices × 100 edits with concurrent head-office escalations against real gunicorn workers."""

from __future__ import annotations

import pytest
from flask import Flask

from server import create_app
from tests.server.api import harness
from tests.server.api.conftest import Gunicorn, add_branch, add_head_office, get_db_of

pytestmark = pytest.mark.battery


def _prepared(url: str) -> tuple[list[str], str]:
    app: Flask = create_app({"DATABASE_URL": url})
    tokens = [add_branch(app, f"B{b:02d}") for b in range(3)]
    hq = add_head_office(app)
    get_db_of(app).dispose()
    return tokens, hq


def test_no_acknowledged_edit_is_lost_or_duplicated_under_concurrency(migrated_url):
    tokens, hq = _prepared(migrated_url)
    server = Gunicorn(migrated_url, workers=4)
    try:
        report = harness.run(server.url, tokens, hq, devices_per_branch=4, edits=100)
    finally:
        server.stop()
    assert report.errors == []
    assert report.acknowledged_edits > 0 and report.resent > 150
    assert report.lost_edits == 0
    assert report.stored_log == report.acknowledged_log == 1200 and report.duplicated_log == 0
    assert report.escalations > 0 and report.lost_escalations == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_harness_reports_losses_when_the_version_check_is_off(migrated_url):
    tokens, hq = _prepared(migrated_url)
    server = Gunicorn(migrated_url, workers=4, extra_env={"FLASK_SYNC_VERSION_CHECK": "false"})
    try:
        report = harness.run(server.url, tokens, hq, devices_per_branch=4, edits=30)
    finally:
        server.stop()
    assert report.lost_edits + report.lost_escalations > 0
