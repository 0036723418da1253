"""Who wrote what: the authenticated principal, never a client's header; a note shows its author's role."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from complaints.enums import Level
from complaints.wire import ticket_fields
from server.storage.db import get_db
from server.storage.models import HistoryRow, LogRow
from tests.server.dashboard.conftest import csrf_of, sign_in
from tests.server.doors.conftest import ApiDoor, complete, log_of, stored


def _history(app, sync_key: str) -> list[tuple[str, str, str, str, str]]:
    with app.app_context(), get_db().read() as session:
        query = select(HistoryRow).where(HistoryRow.entity_key == sync_key).order_by(HistoryRow.id)
        return [(h.field, h.by, h.role, h.source, h.device) for h in session.scalars(query)]


def test_a_device_header_is_kept_beside_the_author_never_instead_of_it(app, branch_token: str) -> None:
    ticket = complete(1)
    body = {"tickets": [{"sync_key": ticket.sync_key, "fields": ticket_fields(ticket)}]}
    headers = {
        "Authorization": f"Bearer {branch_token}",
        "Idempotency-Key": uuid.uuid4().hex,
        "X-Device": "hq",
    }
    assert app.test_client().post("/api/sync", json=body, headers=headers).status_code == 200
    (created,) = _history(app, ticket.sync_key)
    assert created == ("*", "SZ01", "branch", "api", "hq")


def test_a_branch_note_signed_as_head_office_still_shows_the_branch_role(app, branch_token: str) -> None:
    ticket = complete(2)
    ApiDoor(app, branch_token).send([ticket])
    entry = {"sync_key": uuid.uuid4().hex, "ticket_key": ticket.sync_key, "at": "2026-11-25T01:30:00+00:00",
             "kind": "note", "text": "总部：已批准补偿", "author": "hq", "channel": "dashboard"}  # fmt: skip
    headers = {"Authorization": f"Bearer {branch_token}", "Idempotency-Key": uuid.uuid4().hex}
    answer = app.test_client().post("/api/sync", json={"log": [entry], "cursor": 0}, headers=headers).json
    (pulled,) = [e for e in answer["pulled"]["log"] if e["sync_key"] == entry["sync_key"]]
    assert (pulled["author"], pulled["role"]) == ("hq", "branch")
    with app.app_context(), get_db().read() as session:
        assert session.get(LogRow, entry["sync_key"]).role == "branch"


def test_head_office_escalation_through_the_dashboard_and_the_api_leaves_the_same_state(
    app, branch_token: str, head_office_token: str
) -> None:
    by_api, by_page = complete(3), complete(4)
    ApiDoor(app, branch_token).send([by_api, by_page])
    response = app.test_client().post(
        f"/api/tickets/{by_api.sync_key}/escalate",
        json={"reason": "总部督办"},
        headers={"Authorization": f"Bearer {head_office_token}"},
    )
    assert response.status_code == 200
    page = app.test_client()
    sign_in(page, "hq", "hq-password")
    token = csrf_of(page.get(f"/dashboard/tickets/{by_page.sync_key}").text)
    posted = page.post(
        f"/dashboard/tickets/{by_page.sync_key}/escalate", data={"csrf_token": token, "reason": "总部督办"}
    )
    assert posted.status_code == 302
    api_ticket, page_ticket = stored(app, by_api.sync_key), stored(app, by_page.sync_key)
    for ticket in (api_ticket, page_ticket):
        assert ticket.level is Level.YELLOW and ticket.level_reason == "总部督办"
        assert ticket.escalated_to == api_ticket.escalated_to != ""
    for ticket in (by_api, by_page):
        ((kind, _, author, role),) = log_of(app, ticket.sync_key)
        assert (kind, author, role) == ("escalation", "hq", "head_office")
    sources = {h[3] for h in _history(app, by_api.sync_key) if h[0] == "level"}
    sources |= {h[3] for h in _history(app, by_page.sync_key) if h[0] == "level"}
    assert sources == {"api", "dashboard"}
    assert {h[2] for h in _history(app, by_page.sync_key) if h[0] == "level"} == {"head_office"}
