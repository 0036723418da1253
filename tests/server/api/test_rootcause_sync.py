"""Root causes that close the loop, through the sync API (SQLite and PostgreSQL).

Fishbone category and measure go in with a push; a later complaint of the same
branch, fishbone category and complaint category within the window marks the
earlier measure as not effective, and the branch's pull brings that back; the
flag scan judges a measure effective when the window has passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask

from server import create_app
from server.scheduling.scan import scan_flags
from server.storage.db import get_db
from server.storage.models import TicketRow
from tests.server.api.conftest import NOW, add_branch
from tests.server.api.test_sync_api import key, new_fields, sync

DONE = "2026-10-10T02:00:00+00:00"
"""The first ticket's measure was done on Saturday 10 October 2026, 10:00 in Shanghai."""


def measured(**extra: Any) -> dict[str, Any]:
    """A ticket received 1 October whose cause was traced to the network and whose measure is done."""
    values = {
        "received_at": "2026-10-01T01:00:00+00:00",
        "fishbone": "network",
        "root_cause": "老旧光交箱过载",
        "improvement": "光交箱扩容",
        "measure_owner": "网络部王工",
        "measure_status": "done",
        "measure_done_at": DONE,
    }
    return new_fields("SZ01-20261001-0001", **(values | extra))


def later(received_at: str, number: str = "SZ01-20261109-0002", **extra: Any) -> dict[str, Any]:
    return new_fields(number, **({"received_at": received_at, "fishbone": "network"} | extra))


def stored_effect(app: Flask, sync_key: str) -> str | None:
    with app.app_context(), get_db().read() as session:
        return session.get_one(TicketRow, sync_key).effect


def push(client, token: str, tickets: list[tuple[str, dict[str, Any], int | None]]) -> dict[str, dict]:
    """Push tickets (sync key, fields, base version); the pulled rows by sync key."""
    items = [
        {"sync_key": k, "fields": f, **({} if base is None else {"base_version": base})}
        for k, f, base in tickets
    ]
    out = sync(client, token, {"tickets": items})
    assert not out["pushed"]["rejected"]["tickets"], out["pushed"]["rejected"]
    return {t["sync_key"]: t for t in out["pulled"]["tickets"]}


@pytest.fixture
def window_app(database_url: str) -> Iterator[Flask]:
    """A server whose recurrence window is 30 days, offering four of the fishbone categories."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "CLOCK": lambda: NOW,
            "SLA_POLICY": {"recurrence_days": 30},
            "ROOT_CAUSE_CATEGORIES": ["network", "system", "process", "staff"],
        }
    )
    with app.app_context():
        get_db().upgrade()
    yield app
    with app.app_context():
        get_db().dispose()


def test_a_complaint_of_the_same_cause_inside_the_window_marks_the_measure_as_not_effective(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    first = key()
    rows = push(client, token, [(first, measured(), None)])
    row = rows[first]
    assert (row["measure_status"], row["effect"], row["improvement_done"]) == ("done", "watching", True)

    again = key()
    rows = push(client, token, [(again, later("2026-11-20T01:00:00+00:00"), None)])
    assert rows[first]["effect"] == "recurred"  # the earlier ticket comes back with the pull
    assert rows[first]["recurred_at"] == "2026-11-20T01:00:00+00:00"
    assert rows[first]["version"] == 2

    # the later complaint turns out to have another cause: the measure is watched again
    rows = push(client, token, [(again, {"fishbone": "process"}, 1)])
    assert rows[first]["effect"] == "watching" and rows[first]["recurred_at"] is None


@pytest.mark.parametrize(
    ("received_at", "effect"),
    [
        ("2026-11-09T01:59:00+00:00", "recurred"),  # a minute before the window's end: inside
        ("2026-11-09T02:00:00+00:00", "effective"),  # exactly 30 days after: outside
        ("2026-11-20T01:00:00+00:00", "effective"),
    ],
)
def test_the_window_is_configured_and_its_end_is_outside(window_app, received_at, effect):
    client, token = window_app.test_client(), add_branch(window_app, "SZ01")
    first = key()
    push(client, token, [(first, measured(), None)])
    push(client, token, [(key(), later(received_at), None)])
    assert stored_effect(window_app, first) == effect  # 30 days had passed by "now": judged


def test_other_categories_branches_and_cancelled_complaints_are_no_recurrence(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    other_branch = add_branch(app, "GZ01")
    first = key()
    push(client, token, [(first, measured(), None)])
    inside = "2026-11-20T01:00:00+00:00"
    rows = push(
        client,
        token,
        [
            (key(), later(inside, "SZ01-20261120-0002", category="billing_dispute"), None),
            (key(), later(inside, "SZ01-20261120-0003", fishbone="staff"), None),
            (key(), later(inside, "SZ01-20261120-0004", cancelled_at=inside, cancel_reason="撤诉"), None),
        ],
    )
    assert (rows[first]["effect"], rows[first]["version"]) == ("watching", 1)
    push(client, other_branch, [(key(), later(inside, "GZ01-20261120-0001"), None)])
    assert stored_effect(app, first) == "watching"


def test_an_open_measure_past_its_due_date_flags_the_ticket_and_labels_are_understood(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    k = key()
    fields = new_fields(
        fishbone="网络", improvement="光交箱扩容", measure_due="2026-11-20", measure_status="进行中"
    )
    row = push(client, token, [(k, fields, None)])[k]
    assert (row["fishbone"], row["measure_status"]) == ("network", "in_progress")
    assert row["measure_due"] == "2026-11-20"
    assert "MEASURE_OVERDUE" in row["flags"]
    row = push(client, token, [(k, {"measure_status": "dropped"}, 1)])[k]
    assert "MEASURE_OVERDUE" not in row["flags"] and row["effect"] is None


def test_a_category_the_server_does_not_offer_or_a_measure_without_text_is_refused(window_app):
    client, token = window_app.test_client(), add_branch(window_app, "SZ01")
    body = {
        "tickets": [
            {"sync_key": key(), "fields": new_fields(fishbone="partner")},
            {"sync_key": key(), "fields": new_fields("SZ01-20261125-0002", measure_owner="王工")},
        ]
    }
    out = sync(client, token, body)
    rejected = out["pushed"]["rejected"]["tickets"]
    assert [[e["field"] for e in r["errors"]] for r in rejected] == [["fishbone"], ["improvement"]]
    assert "合作方" in rejected[0]["errors"][0]["message"]


def test_the_server_refuses_to_start_with_an_unknown_category(database_url):
    with pytest.raises(ValueError, match="'weather'"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "ROOT_CAUSE_CATEGORIES": ["weather"]})


def test_the_flag_scan_judges_a_watched_measure_effective_when_the_window_has_passed(window_app):
    client, token = window_app.test_client(), add_branch(window_app, "SZ01")
    k = key()
    done = NOW - timedelta(days=5)
    row = push(client, token, [(k, measured(measure_done_at=done.isoformat()), None)])[k]
    assert row["effect"] == "watching"
    with window_app.app_context():
        scan_flags(NOW)  # plans the ticket's next check at the window's end
        scan_flags(NOW + timedelta(days=24))
    assert stored_effect(window_app, k) == "watching"
    with window_app.app_context():
        scan_flags(NOW + timedelta(days=25, minutes=1))
    assert stored_effect(window_app, k) == "effective"
