"""Battery 15: no phone number, however it is written, reaches a head-office user.

A branch types every spelling of `tests/phones.py` into every kind of text
(contact, name, place, description, expectation, tasks, log, a conflict); head
office then works as it does — a token minted with its password, the API's
lists, details, escalations and conflicts, the dashboard's overview, list,
searches by full numbers, ticket pages, notes and escalations, both
consolidated downloads — while the department heads get their escalation
notices and digests by e-mail from a local SMTP server. Every response body
head office received, every address it was sent to, every e-mail and every
export is scanned for every number of the table; an administrator doing the
same sees them all (so the check can fail).
"""

from __future__ import annotations

import base64
import html
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from complaints.enums import Category
from complaints.routing import RoutingRule
from server.auth import ADMIN
from server.scheduling.jobs import daily_digest, outbox
from server.storage.db import get_db
from server.storage.models import BranchRow
from server.storage.routing import set_rule
from tests.battery.hostile_files import NOW
from tests.battery.test_battery_exports import workbook_texts
from tests.phones import IN_TEXT, LANDLINES, MOBILES, PHONES, unmasked
from tests.server.api.conftest import add_branch, add_head_office, free_port
from tests.server.api.test_sync_api import new_fields
from tests.server.dashboard.conftest import add_user, csrf_of, sign_in
from tests.server.jobs.test_outbox_smtp import MailServer

pytestmark = pytest.mark.battery

EVERY_NUMBER = sorted({s.digits for s in PHONES})
CONSOLIDATED = "/api/consolidated?start=2026-11-01&end=2026-12-01"
HEAD_MAIL = "head@example.com"


class Seen:
    """Everything one user was shown: each answer's body and redirect address, decoded to text."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, response: TestResponse) -> None:
        data = response.get_data()
        kind = response.mimetype
        if kind.endswith("spreadsheetml.sheet"):
            text = "\n".join(workbook_texts(data))
        elif kind == "application/json":
            text = json.dumps(json.loads(data), ensure_ascii=False)
        else:
            text = html.unescape(data.decode("utf-8", "replace"))
        self.texts.append((where, f"{response.headers.get('Location', '')}\n{text}"))

    def leaks(self) -> dict[str, list[str]]:
        """Per place, the table's numbers it showed in full."""
        found = {where: unmasked(text) for where, text in self.texts}
        return {where: numbers for where, numbers in found.items() if numbers}

    def numbers(self) -> list[str]:
        return unmasked("\n".join(text for _, text in self.texts))


def recording(app: Flask, seen: Seen) -> FlaskClient:
    """A test client that shows ``seen`` every response it gets."""

    class Recorder(FlaskClient):
        def open(self, *args: Any, **kwargs: Any) -> TestResponse:
            response = super().open(*args, **kwargs)
            path = args[0] if args and isinstance(args[0], str) else kwargs.get("path", "?")
            seen.add(f"{kwargs.get('method', 'GET')} {path}", response)
            return response

    return Recorder(app, app.response_class, use_cookies=True)


@pytest.fixture
def mail(app: Flask) -> Iterator[MailServer]:
    server = MailServer(free_port())
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=server.port, SMTP_FROM="desk@example.com")
    server.start()
    yield server
    server.stop()


def branch_types_every_spelling(app: Flask) -> list[str]:
    """SZ01 pushes a ticket per spelling (some red, so heads are told), tasks, log entries, a conflict."""
    token = add_branch(app, "SZ01")
    with app.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
        assert branch is not None
        set_rule(session, branch.id, RoutingRule(Category.NETWORK_FAULT, "网络部", "王经理", HEAD_MAIL))
    client = app.test_client()

    def push(body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(
            "/api/sync",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 200, response.json
        return response.json

    keys = [uuid.uuid4().hex for _ in PHONES]
    contacts = [s.written for s in MOBILES + LANDLINES]
    tickets = []
    for n, (k, spelling) in enumerate(zip(keys, PHONES, strict=True), 1):
        written = spelling.written
        fields = new_fields(
            f"SZ01-20261125-{n:04d}",
            contact=contacts[n % len(contacts)],
            customer_name=f"客户 {written}",
            place=f"阳光花园{n}栋，物业 {written}",
            description=f"每晚断线，请回电 {written}",
            expectation=f"修好后打 {written}",
            media_exposure=n % 4 == 0,
        )
        tickets.append({"sync_key": k, "fields": fields})
    push({"tickets": tickets})
    others = [s.written for s in IN_TEXT + LANDLINES]
    push(
        {
            "tasks": [
                {"sync_key": uuid.uuid4().hex, "ticket_key": k, "fields": {"task_no": 1, "title": f"回电 {w}",
                                                                            "owner": f"李工 {w}"}}
                for k, w in zip(keys, others, strict=False)
            ],
            "log": [
                {"sync_key": uuid.uuid4().hex, "ticket_key": k, "at": "2026-11-25T01:30:00+00:00",
                 "kind": "note", "text": f"客户留言 {w}", "author": f"坐席 {w}", "channel": f"短信 {w}"}
                for k, w in zip(keys, others, strict=False)
            ],
        }
    )  # fmt: skip
    for cause in (f"光猫老化，{MOBILES[0].written}", f"线路故障，{LANDLINES[0].written}"):
        push({"tickets": [{"sync_key": keys[1], "base_version": 1, "fields": {"cause": cause}}]})
    return keys


def head_office_works(client: FlaskClient, keys: list[str], password: str, username: str) -> None:
    """What head office does with the API and the dashboard, every answer recorded by ``client``."""
    basic = base64.b64encode(f"{username}:{password}".encode()).decode()
    minted = client.post("/api/tokens", headers={"Authorization": f"Basic {basic}"})
    assert minted.status_code == 201
    bearer = {"Authorization": f"Bearer {minted.json['token']}"}
    if minted.json["role"] != ADMIN:  # the ticket API serves branches and head office
        assert client.get("/api/tickets?limit=1000", headers=bearer).status_code == 200
        for k in keys:
            assert client.get(f"/api/tickets/{k}", headers=bearer).status_code == 200
        escalated = client.post(
            f"/api/tickets/{keys[2]}/escalate", json={"reason": "总部督办", "head": "王经理"}, headers=bearer
        )
        assert escalated.status_code == 200
        assert client.get("/api/conflicts", headers=bearer).json
    assert client.get(CONSOLIDATED, headers=bearer).status_code == 200

    sign_in(client, username, password)
    client.get("/dashboard/")
    listed = client.get("/dashboard/tickets")
    assert listed.status_code == 200
    for spelling in PHONES:  # search by each full number, as typed
        token = csrf_of(listed.text)
        found = client.post("/dashboard/tickets", data={"q": spelling.written, "csrf_token": token})
        assert found.status_code == 302
        client.get(found.headers["Location"])
    for k in keys:
        assert client.get(f"/dashboard/tickets/{k}").status_code == 200
    page = f"/dashboard/tickets/{keys[5]}"
    token = csrf_of(client.get(page).text)
    assert client.post(f"{page}/note", data={"csrf_token": token, "note": "已阅"}).status_code == 302
    client.post(f"{page}/escalate", data={"csrf_token": token, "reason": "媒体关注", "head": "王经理"})
    client.get(page)
    client.get("/dashboard/downloads")
    download = client.post(
        "/dashboard/downloads/consolidated",
        data={"csrf_token": token, "from": "2026-11-01", "to": "2026-11-30", "lang": "zh"},
    )
    assert download.status_code == 200 and download.mimetype.endswith("spreadsheetml.sheet")


def test_head_office_is_shown_no_phone_number_in_any_answer_e_mail_or_export(
    app: Flask, mail: MailServer
) -> None:
    keys = branch_types_every_spelling(app)
    add_head_office(app, "analyst", "hq-password")
    head_office = Seen()
    head_office_works(recording(app, head_office), keys, "hq-password", "analyst")
    with app.app_context():
        daily_digest(NOW)
        report = outbox(NOW).detail
    assert mail.inbox.messages, report  # escalations and digests went out
    e_mails = Seen()
    for message in mail.inbox.messages:
        e_mails.texts.append((f"mail {message['Subject']}", f"{message['Subject']}\n{message.get_content()}"))

    assert head_office.leaks() == {}
    assert e_mails.leaks() == {}
    print(  # the figures of docs/reliability.md, check 15
        f"\ncheck 15: {len(head_office.texts)} answers to head office, {len(mail.inbox.messages)} e-mails, "
        f"{len(PHONES)} spellings of {len(EVERY_NUMBER)} numbers: 0 shown in full"
    )

    add_user(app, "root", ADMIN)
    admin = Seen()
    head_office_works(recording(app, admin), keys, "s3cret-pass", "root")
    assert admin.numbers() == EVERY_NUMBER  # an administrator sees every number: the scan finds them
