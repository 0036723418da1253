"""The API shows head office every phone number masked; a branch reads its own tickets back as typed."""

from __future__ import annotations

import json
from typing import Any

from server.storage.writes import CREATED
from tests.phones import LANDLINES, MOBILES, unmasked
from tests.server.api.conftest import add_branch, add_head_office
from tests.server.api.test_sync_api import create, key, sync

SPELLINGS = [s.written for s in MOBILES + LANDLINES]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def seed(client: Any, token: str, ticket_id: str = "SZ01-20261125-0001") -> str:
    """A ticket with a number in each text field, a task and a log entry; every spelling somewhere."""
    row = create(
        client,
        token,
        ticket_id=ticket_id,
        contact="138-0013-8000",
        customer_name="王先生 139 1234 5678",
        place="（０７５５）８３２０１２３４ 门口",
        description="；".join(SPELLINGS[: len(SPELLINGS) // 2]),
        expectation="；".join(SPELLINGS[len(SPELLINGS) // 2 :]),
    )
    sync(
        client,
        token,
        {
            "tasks": [
                {
                    "sync_key": key(),
                    "ticket_key": row["sync_key"],
                    "fields": {"task_no": 1, "title": "回电 0086 139 1234 5678", "owner": "李工 18612345678"},
                }
            ],
            "log": [
                {
                    "sync_key": key(),
                    "ticket_key": row["sync_key"],
                    "at": "2026-11-25T01:30:00+00:00",
                    "kind": "note",
                    "text": "客户留言：+86 755 8320 1234",
                    "author": "坐席 199 8765 4321",
                    "channel": "短信 138.0013.8000",
                }
            ],
        },
    )
    return row["sync_key"]


def shown(answer: Any) -> list[str]:
    return unmasked(json.dumps(answer, ensure_ascii=False))


def test_head_office_sees_no_full_number_in_lists_details_escalations_or_conflicts(app):
    client, branch = app.test_client(), add_branch(app, "SZ01")
    hq = add_head_office(app)
    ticket = seed(client, branch)
    listed = client.get("/api/tickets", headers=auth(hq))
    detail = client.get(f"/api/tickets/{ticket}", headers=auth(hq))
    escalated = client.post(
        f"/api/tickets/{ticket}/escalate", json={"reason": "客户 13800138000 投诉到媒体"}, headers=auth(hq)
    )
    assert (listed.status_code, detail.status_code, escalated.status_code) == (200, 200, 200)
    for answer in (listed.json, detail.json, escalated.json):
        assert shown(answer) == []
    ticket_json = detail.json["ticket"]
    assert ticket_json["contact"] == "138-****-8000"
    assert ticket_json["customer_name"] == "王先生 139 **** 5678"
    assert detail.json["tasks"][0]["owner"] == "李工 186****5678"
    assert detail.json["log"][0]["channel"] == "短信 138.****.8000"
    assert ticket_json["ticket_id"] == "SZ01-20261125-0001"  # identifiers stay as they are
    created = next(h for h in detail.json["history"] if h["field"] == CREATED)
    assert created["new"]["contact"] == "138-****-8000"


def test_a_branch_reads_its_own_tickets_back_in_full_so_its_next_push_writes_no_masks(app):
    client, branch = app.test_client(), add_branch(app, "SZ01")
    ticket = seed(client, branch)
    detail = client.get(f"/api/tickets/{ticket}", headers=auth(branch)).json
    assert detail["ticket"]["contact"] == "138-0013-8000"
    assert detail["tasks"][0]["owner"] == "李工 18612345678"
    pulled = sync(client, branch, {"cursor": 0})["pulled"]
    assert pulled["tickets"][0]["customer_name"] == "王先生 139 1234 5678"
    assert len(shown(detail)) == len({s.digits for s in MOBILES + LANDLINES})


def test_head_office_conflicts_show_both_values_masked(app):
    client, branch = app.test_client(), add_branch(app, "SZ01")
    hq = add_head_office(app)
    row = create(client, branch)
    k = row["sync_key"]
    for cause in ("A 13800138000", "B 13912345678"):  # two copies of the workbook, both on version 1
        sync(client, branch, {"tickets": [{"sync_key": k, "base_version": 1, "fields": {"cause": cause}}]})
    conflicts = client.get("/api/conflicts", headers=auth(hq)).json
    assert conflicts and shown(conflicts) == []
    assert {conflicts[0]["branch_value"], conflicts[0]["server_value"]} == {"A 138****8000", "B 139****5678"}
