"""Battery 6, mixed doors: 12 devices on the API, the branch upload (older copies too) and the add-in's
Sync, head office escalating — 0 lost, 0 duplicated, every conflict recorded.

PostgreSQL: gunicorn with 4 workers; SQLite: one process with 4 threads. CI profile: API devices 20
edits, workbook devices 6; ``BATTERY_PROFILE=long``: 150 and 40 (the figures of docs/reliability.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

from server import create_app
from tests.battery import mixed_doors
from tests.server.api.conftest import (  # noqa: F401 - fixtures
    Gunicorn,
    add_branch,
    add_head_office,
    database_url,
    get_db_of,
    migrated_url,
)

pytestmark = pytest.mark.battery

LONG = os.environ.get("BATTERY_PROFILE", "ci") == "long"
BRANCHES = ("SZ01", "GZ02", "FS03")


def _prepared(url: str) -> tuple[dict[str, str], str]:
    app: Flask = create_app({"DATABASE_URL": url})
    tokens = {code: add_branch(app, code) for code in BRANCHES}
    hq = add_head_office(app)
    get_db_of(app).dispose()
    return tokens, hq


def test_every_door_at_once_loses_nothing_duplicates_nothing_and_records_every_conflict(
    migrated_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    tokens, hq = _prepared(migrated_url)
    one_process = migrated_url.startswith("sqlite")
    server = Gunicorn(
        migrated_url,
        workers=1 if one_process else 4,
        threads=4 if one_process else 1,
        extra_env={"FLASK_BRANCH_DOWNLOADS": str(tmp_path / "downloads")},
    )
    try:
        report = mixed_doors.run(
            server.url,
            tokens,
            hq,
            tmp_path,
            api_edits=150 if LONG else 20,
            workbook_edits=40 if LONG else 6,
        )
    finally:
        server.stop()
    print(report.describe())
    assert report.errors == []
    # the run did what it claims: every door, older copies, resends, both escalation doors
    assert set(report.edits) == {"api", "upload", "addin"}
    assert set(report.old_copies) == {"upload", "addin"} and min(report.old_copies.values()) >= 6
    assert report.uploads_resent > 0 and report.resent > 0
    assert set(report.escalations) == {"api", "dashboard"}
    assert report.expected_conflicts and report.applied > 0
    # 0 lost, 0 duplicated, every conflict recorded (and none made up)
    assert report.lost == [] and report.lost_escalations == 0 and report.lost_log == 0
    assert report.tickets == 10 * len(BRANCHES) and report.duplicated_tickets == 0
    assert report.duplicated_log == 0 and report.unacknowledged_log == 0 and report.other_log == {}
    assert report.escalation_log == sum(report.escalations.values())
    assert report.stored_log == report.acknowledged_log == sum(report.edits.values())
    assert report.missing_conflicts == set() and report.unexpected_conflicts == set()
