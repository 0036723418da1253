"""The sync protocol through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.server.api.conftest import add_branch, add_head_office


def key() -> str:
    return uuid.uuid4().hex


def new_fields(ticket_id: str = "SZ01-20261125-0001", **extra: Any) -> dict[str, Any]:
    """A complete new ticket; each number gets its own customer and estate, so tickets made with it do
    not form repeat complaints or group incidents unless a test says so."""
    seq = ticket_id.rsplit("-", 1)[-1][-4:].rjust(4, "0")
    fields = {
        "ticket_id": ticket_id,
        "received_at": "2026-11-25T01:10:00+00:00",
        "channel": "hotline",
        "customer_name": "张先生",
        "contact": f"1380013{seq}",
        "category": "network_fault",
        "place": f"阳光花园{seq}期",  # one estate each: building numbers are one place (complaints.groups)
        "problem_time": "每晚20点",
        "service": "宽带",
        "description": "每晚八点宽带断线",
        "expectation": "一周内修好",
        "grade": "moderate",
    }
    fields.update(extra)
    return fields


def sync(
    client, token: str, body: dict[str, Any], idem: str | None = None, status: int = 200
) -> dict[str, Any]:
    response = client.post(
        "/api/sync",
        json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": idem or key()},
    )
    assert response.status_code == status, response.json
    return response.json


def create(client, token: str, **extra: Any) -> dict[str, Any]:
    """Push a new ticket; return its row as the server now holds it."""
    sync_key = extra.pop("sync_key", key())
    out = sync(client, token, {"tickets": [{"sync_key": sync_key, "fields": new_fields(**extra)}]})
    return next(t for t in out["pulled"]["tickets"] if t["sync_key"] == sync_key)


def test_new_ticket_is_stored_with_deadlines_and_flags_computed(app):
    token = add_branch(app, "SZ01")
    row = create(app.test_client(), token)
    assert row["version"] == 1 and row["status"] == "new"
    assert row["ack_due"] == "2026-11-26T15:59:59+00:00"  # end of Thursday in Shanghai
    assert row["flags"] == []


def test_resent_push_returns_the_same_response_and_stores_nothing_twice(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    body = {"tickets": [{"sync_key": key(), "fields": new_fields()}]}
    first = sync(client, token, body, idem="push-1")
    again = sync(client, token, body, idem="push-1")
    assert again == first
    listed = client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json
    assert listed["total"] == 1


def test_same_idempotency_key_with_another_body_is_refused(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    sync(client, token, {"tickets": [{"sync_key": key(), "fields": new_fields()}]}, idem="k")
    out = sync(client, token, {"cursor": 3}, idem="k", status=422)
    assert out["error"] == "idempotency_key_reused"


def test_missing_idempotency_key_is_a_clear_400(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    response = client.post("/api/sync", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400
    assert response.json["where"] == {"header": "Idempotency-Key"}


def test_edit_on_a_current_base_is_applied_and_kept_in_history(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    row = create(client, token)
    out = sync(
        client,
        token,
        {
            "tickets": [
                {
                    "sync_key": row["sync_key"],
                    "base_version": 1,
                    "fields": {**new_fields(), "cause": "光猫老化"},
                }
            ]
        },
    )
    assert out["pushed"]["tickets"][0]["applied"] == ["cause"]
    detail = client.get(f"/api/tickets/{row['sync_key']}", headers={"Authorization": f"Bearer {token}"}).json
    assert detail["ticket"]["cause"] == "光猫老化" and detail["ticket"]["version"] == 2
    assert {"field": "cause", "old": "", "new": "光猫老化", "version": 2} in [
        {k: h[k] for k in ("field", "old", "new", "version")} for h in detail["history"]
    ]


def test_stale_edits_to_different_fields_merge_without_loss(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    row = create(client, token)
    k = row["sync_key"]
    sync(
        client,
        token,
        {"tickets": [{"sync_key": k, "base_version": 1, "fields": {**new_fields(), "cause": "A"}}]},
    )
    # a second copy of the workbook still at version 1 edits another field, sending its whole (stale) row
    out = sync(
        client,
        token,
        {"tickets": [{"sync_key": k, "base_version": 1, "fields": {**new_fields(), "solution": "B"}}]},
    )
    assert out["pushed"]["tickets"][0] == {
        "sync_key": k,
        "ticket_id": row["ticket_id"],
        "applied": ["solution"],
        "conflicts": [],
    }
    final = next(t for t in out["pulled"]["tickets"] if t["sync_key"] == k)
    assert (final["cause"], final["solution"], final["version"]) == ("A", "B", 3)


def test_same_field_changed_on_both_sides_becomes_a_conflict_with_both_values(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    k = create(client, token)["sync_key"]
    sync(client, token, {"tickets": [{"sync_key": k, "base_version": 1, "fields": {"cause": "服务器端"}}]})
    out = sync(
        client, token, {"tickets": [{"sync_key": k, "base_version": 1, "fields": {"cause": "分支端"}}]}
    )
    conflict = out["pushed"]["tickets"][0]["conflicts"][0]
    assert (conflict["field"], conflict["branch_value"], conflict["server_value"]) == (
        "cause",
        "分支端",
        "服务器端",
    )
    assert out["pulled"]["conflicts"][0]["id"] == conflict["id"]
    # nothing lost: the server keeps its value until the coordinator decides
    resolved = app.test_client().post(
        f"/api/conflicts/{conflict['id']}/resolve",
        json={"keep": "branch"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resolved.status_code == 200 and resolved.json["resolution"] == "branch"
    detail = client.get(f"/api/tickets/{k}", headers={"Authorization": f"Bearer {token}"}).json
    assert detail["ticket"]["cause"] == "分支端" and detail["conflicts"] == []


def test_same_value_on_both_sides_is_not_a_conflict(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    k = create(client, token)["sync_key"]
    sync(client, token, {"tickets": [{"sync_key": k, "base_version": 1, "fields": {"cause": "同"}}]})
    out = sync(client, token, {"tickets": [{"sync_key": k, "base_version": 1, "fields": {"cause": "同"}}]})
    assert out["pushed"]["tickets"][0]["conflicts"] == []


def test_two_workbook_copies_with_the_same_number_are_renumbered_not_overwritten(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    first = create(client, token, ticket_id="SZ01-20261125-0001", customer_name="甲")
    out = sync(
        client,
        token,
        {"tickets": [{"sync_key": key(), "fields": new_fields("SZ01-20261125-0001", customer_name="乙")}]},
    )
    pushed = out["pushed"]["tickets"][0]
    assert pushed["renumbered_from"] == "SZ01-20261125-0001" and pushed["ticket_id"] == "SZ01-20261125-0002"
    names = {t["ticket_id"]: t["customer_name"] for t in out["pulled"]["tickets"]}
    assert names == {first["ticket_id"]: "甲", "SZ01-20261125-0002": "乙"}


def test_bad_rows_are_rejected_by_name_and_good_rows_still_apply(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    good, bad = key(), key()
    out = sync(
        client,
        token,
        {
            "tickets": [
                {"sync_key": good, "fields": new_fields("SZ01-20261125-0001")},
                {
                    "sync_key": bad,
                    "fields": new_fields("SZ01-20261125-0002", received_at="yesterday", status="closed"),
                },
            ]
        },
    )
    rejected = out["pushed"]["rejected"]["tickets"]
    assert [r["sync_key"] for r in rejected] == [bad]
    assert {e["field"] for e in rejected[0]["errors"]} == {"received_at", "status"}
    assert [t["sync_key"] for t in out["pulled"]["tickets"]] == [good]


def test_pull_returns_only_changes_after_the_cursor(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    create(client, token, ticket_id="SZ01-20261125-0001")
    cursor = sync(client, token, {})["pulled"]["cursor"]
    create(client, token, ticket_id="SZ01-20261125-0002")
    pulled = sync(client, token, {"cursor": cursor})["pulled"]
    assert [t["ticket_id"] for t in pulled["tickets"]] == ["SZ01-20261125-0002"]


def test_head_office_escalation_reaches_the_branch_on_its_next_pull(app):
    client, token, hq = app.test_client(), add_branch(app, "SZ01"), add_head_office(app)
    row = create(client, token)
    cursor = sync(client, token, {})["pulled"]["cursor"]
    response = client.post(
        f"/api/tickets/{row['sync_key']}/escalate",
        json={"reason": "微博曝光", "head": "王部长"},
        headers={"Authorization": f"Bearer {hq}"},
    )
    assert response.status_code == 200
    pulled = sync(client, token, {"cursor": cursor})["pulled"]
    assert pulled["tickets"][0]["level"] == "yellow" and pulled["tickets"][0]["escalated_to"] == "王部长"
    assert pulled["log"][0]["kind"] == "escalation" and "微博曝光" in pulled["log"][0]["text"]


def test_log_entries_are_appended_once_even_when_resent(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    row = create(client, token)
    entry = {
        "sync_key": key(),
        "ticket_key": row["sync_key"],
        "at": "2026-11-25T01:30:00+00:00",
        "kind": "progress",
        "text": "已派工程师上门",
    }
    sync(client, token, {"log": [entry]})
    out = sync(client, token, {"log": [entry]})
    assert out["pushed"]["log"] == [{"sync_key": entry["sync_key"], "duplicate": True}]
    detail = client.get(f"/api/tickets/{row['sync_key']}", headers={"Authorization": f"Bearer {token}"}).json
    assert len(detail["log"]) == 1


def test_tasks_sync_and_an_overdue_task_flags_the_ticket(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    row = create(client, token)
    task = {
        "sync_key": key(),
        "ticket_key": row["sync_key"],
        "fields": {"task_no": 1, "title": "更换光猫", "owner": "赵工", "due": "2026-11-24"},
    }
    out = sync(client, token, {"tasks": [task]})
    ticket = next(t for t in out["pulled"]["tickets"] if t["sync_key"] == row["sync_key"])
    assert "TASK_OVERDUE" in ticket["flags"]
    assert out["pulled"]["tasks"][0]["title"] == "更换光猫"


def test_an_older_copy_of_a_task_never_undoes_what_another_device_did(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    row = create(client, token)
    original = {"task_no": 1, "title": "更换光猫", "owner": "赵工", "due": "2026-11-24"}
    task = {"sync_key": key(), "ticket_key": row["sync_key"], "fields": original}
    sync(client, token, {"tasks": [task]})
    # another device reassigns the task and marks it done (on the version it had)
    done = {**original, "owner": "李工", "done_at": "2026-11-25T01:00:00+00:00"}
    sync(client, token, {"tasks": [{**task, "base_version": 1, "fields": done}]})
    # an older copy (version 1, or an add-in that sends no version) comes back with an unrelated edit
    for base in (1, None):
        older = {**task, "base_version": base, "fields": {**original, "title": "更换光猫并测速"}}
        out = sync(client, token, {"tasks": [older]})
        assert out["pushed"]["tasks"][0]["conflicts"] == []
        (kept,) = [t for t in out["pulled"]["tasks"] if t["sync_key"] == task["sync_key"]]
        assert (kept["owner"], kept["done_at"], kept["title"]) == (
            "李工",
            "2026-11-25T01:00:00+00:00",
            "更换光猫并测速",
        )
    # the older copy giving the task to someone else clashes with the reassignment: both are kept
    clash = {**task, "base_version": 1, "fields": {**original, "owner": "王工"}}
    out = sync(client, token, {"tasks": [clash]})
    (conflict,) = out["pushed"]["tasks"][0]["conflicts"]
    assert (conflict["field"], conflict["branch_value"], conflict["server_value"]) == (
        "owner",
        "王工",
        "李工",
    )


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc"])
def test_missing_or_bad_tokens_get_401(app, header):
    headers = {"Idempotency-Key": "x"} | ({"Authorization": header} if header else {})
    response = app.test_client().post("/api/sync", json={}, headers=headers)
    assert response.status_code == 401 and response.json["error"] == "unauthorized"


def test_revoked_token_gets_401(app):
    from server.storage.db import get_db
    from server.storage.models import TokenRow

    client, token = app.test_client(), add_branch(app, "SZ01")
    sync(client, token, {})
    with app.app_context(), get_db().write() as session:
        for row in session.query(TokenRow):
            row.revoked_at = row.created_at
    assert (
        client.post(
            "/api/sync", json={}, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "z"}
        ).status_code
        == 401
    )


def test_tokens_are_stored_only_as_hashes(app):
    from server.storage.db import get_db
    from server.storage.models import TokenRow

    token = add_branch(app, "SZ01")
    with app.app_context(), get_db().read() as session:
        stored = [(t.token_hash, t.prefix) for t in session.query(TokenRow)]
    assert all(token not in h and len(p) < 12 for h, p in stored)


def test_head_office_signs_in_with_a_password_for_a_token(app):
    add_head_office(app, "analyst", "s3cret-pass")
    client = app.test_client()
    bad = client.post("/api/tokens", auth=("analyst", "wrong"))
    good = client.post("/api/tokens", auth=("analyst", "s3cret-pass"))
    assert bad.status_code == 401
    assert good.status_code == 201 and good.json["role"] == "head_office"
    listed = client.get("/api/tickets", headers={"Authorization": f"Bearer {good.json['token']}"})
    assert listed.status_code == 200


def test_branch_token_cannot_use_head_office_sign_in_or_see_all_conflicts_of_others(app):
    token = add_branch(app, "SZ01")
    response = app.test_client().post("/api/sync", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400


def test_openapi_document_describes_the_sync_endpoint(app):
    spec = app.test_client().get("/api/openapi.json").json
    assert "/api/sync" in spec["paths"] and "post" in spec["paths"]["/api/sync"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_a_conflict_pushed_again_is_stored_once_and_the_pull_carries_the_servers_row(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    k = create(client, token)["sync_key"]
    sync(client, token, {"tickets": [{"sync_key": k, "base_version": 1, "fields": {"cause": "服务器端"}}]})
    stale = {"tickets": [{"sync_key": k, "base_version": 1, "fields": {"cause": "分支端"}}], "cursor": 10**6}
    first = sync(client, token, stale)
    again = sync(client, token, stale)
    assert first["pushed"]["tickets"][0]["conflicts"] == again["pushed"]["tickets"][0]["conflicts"]
    assert len(client.get("/api/conflicts", headers={"Authorization": f"Bearer {token}"}).json) == 1
    pulled = sync(client, token, {"cursor": 0})["pulled"]["tickets"]
    assert pulled[0]["version"] == 2 and pulled[0]["cause"] == "服务器端"


def test_a_workbook_of_another_branch_is_refused_by_its_token(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    out = sync(client, token, {"branch": "GZ01"}, status=409)
    assert out["error"] == "wrong_branch" and "GZ01" in out["message"]
    assert sync(client, token, {"branch": "sz01"})["pulled"]["cursor"] == 0
