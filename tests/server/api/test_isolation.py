"""A branch token sees and changes only its branch: another branch's ticket answers like an unknown one."""

from __future__ import annotations

import uuid

import pytest

from tests.server.api.conftest import add_branch
from tests.server.api.test_sync_api import create, key, new_fields, sync

pytestmark = pytest.mark.battery


@pytest.fixture
def two_branches(app):
    client = app.test_client()
    own_token, other_token = add_branch(app, "SZ01"), add_branch(app, "GZ01")
    own = create(client, own_token)["sync_key"]
    other = create(client, other_token, ticket_id="GZ01-20261125-0001")["sync_key"]
    # a conflict in the other branch
    sync(client, other_token, {"tickets": [{"sync_key": other, "base_version": 1, "fields": {"cause": "a"}}]})
    out = sync(
        client, other_token, {"tickets": [{"sync_key": other, "base_version": 1, "fields": {"cause": "b"}}]}
    )
    other_conflict = out["pushed"]["tickets"][0]["conflicts"][0]["id"]
    return client, own_token, own, other, other_conflict


def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("which", ["other", "unknown"])
def test_ticket_detail_of_another_branch_looks_unknown(two_branches, which):
    client, token, _, other, _ = two_branches
    target = other if which == "other" else uuid.uuid4().hex
    response = client.get(f"/api/tickets/{target}", headers=auth(token))
    assert response.status_code == 404
    assert response.json == {"error": "not_found", "message": "no such ticket", "where": {"sync_key": target}}


def test_own_ticket_detail_is_visible(two_branches):
    client, token, own, _, _ = two_branches
    assert client.get(f"/api/tickets/{own}", headers=auth(token)).status_code == 200


@pytest.mark.parametrize("which", ["other", "unknown"])
def test_escalating_another_branchs_ticket_looks_unknown_and_changes_nothing(two_branches, which):
    client, token, _, other, _ = two_branches
    target = other if which == "other" else uuid.uuid4().hex
    response = client.post(f"/api/tickets/{target}/escalate", json={"reason": "x"}, headers=auth(token))
    assert response.status_code == 404 and response.json["error"] == "not_found"


def test_resolving_another_branchs_conflict_looks_unknown(two_branches):
    client, token, _, _, other_conflict = two_branches
    for target in (other_conflict, 999_999):
        response = client.post(
            f"/api/conflicts/{target}/resolve", json={"keep": "branch"}, headers=auth(token)
        )
        assert response.status_code == 404 and response.json["message"] == "no such conflict"


def test_listing_shows_only_own_tickets_and_conflicts(two_branches):
    client, token, own, _, _ = two_branches
    listed = client.get("/api/tickets", headers=auth(token)).json
    assert [t["sync_key"] for t in listed["tickets"]] == [own]
    assert client.get("/api/conflicts", headers=auth(token)).json == []
    assert client.get("/api/tickets?branch=GZ01", headers=auth(token)).json["total"] == 0


def test_pushing_onto_another_branchs_ticket_changes_nothing(two_branches, app):
    client, token, _, other, _ = two_branches
    out = sync(client, token, {
        "tickets": [{"sync_key": other, "base_version": 1, "fields": {"cause": "hijack"}}],
        "tasks": [{"sync_key": key(), "ticket_key": other, "fields": {"task_no": 1, "title": "t"}}],
        "log": [{"sync_key": key(), "ticket_key": other, "at": "2026-11-25T01:30:00+00:00", "kind": "note",
                 "text": "x"}],
    })  # fmt: skip
    rejected = out["pushed"]["rejected"]
    assert len(rejected["tickets"]) == len(rejected["tasks"]) == len(rejected["log"]) == 1
    assert rejected["tasks"][0]["errors"][0]["message"] == "no such ticket"
    assert all(t["sync_key"] != other for t in out["pulled"]["tickets"])
    from server.storage.db import get_db
    from server.storage.models import TicketRow

    with app.app_context(), get_db().read() as session:
        assert session.get(TicketRow, other).cause in ("a", "")


def test_a_branch_pull_never_carries_another_branchs_rows(two_branches):
    client, token, own, _, _ = two_branches
    pulled = sync(client, token, {"cursor": 0})["pulled"]
    assert {t["sync_key"] for t in pulled["tickets"]} == {own}
    assert pulled["conflicts"] == []


def test_a_new_ticket_cannot_reuse_another_branchs_sync_key(two_branches):
    client, token, _, other, _ = two_branches
    out = sync(client, token, {"tickets": [{"sync_key": other, "fields": new_fields("SZ01-20261125-0009")}]})
    assert out["pushed"]["rejected"]["tickets"][0]["errors"][0]["field"] == "sync_key"
