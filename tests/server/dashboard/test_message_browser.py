"""Issue 15 item 7 in Chromium (Playwright): the ticket page's message card — choose a template,
preview it with the wording findings, send it; phone numbers masked for head office, not for an admin."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from complaints.wire import EDITABLE, encode
from server import create_app
from server.auth import ADMIN, HEAD_OFFICE
from server.storage.db import get_db
from tests.browsing import ARGS, CHROMIUM, open_page, require_chromium, served, sign_in_at
from tests.factories import make_ticket
from tests.server.api.conftest import NOW, add_branch
from tests.server.dashboard.conftest import PASSWORD, add_user

TICKET = make_ticket(
    ticket_id="SZ01-20261125-0001",
    received_at=NOW.replace(hour=1),
    contact="13800138000 zhang@example.com",
    preferred_channel="短信",
    compensation="赠送3个月提速",
)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[str]:
    require_chromium()
    app: Flask = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}", "CLOCK": lambda: NOW}
    )
    with app.app_context():
        get_db().upgrade()
    token = add_branch(app, "SZ01")
    add_user(app, "analyst", HEAD_OFFICE)
    add_user(app, "root", ADMIN)
    pushed = app.test_client().post(  # the ticket comes in as a branch's Sync brings it
        "/api/sync",
        json={
            "tickets": [
                {"sync_key": TICKET.sync_key, "fields": {k: encode(k, getattr(TICKET, k)) for k in EDITABLE}}
            ]
        },
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "first-push"},
    )
    assert pushed.status_code == 200 and not pushed.json["pushed"]["rejected"]["tickets"], pushed.json
    with served(app) as url:
        yield url


def test_preview_with_wording_findings_then_send_a_written_confirmation(live: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        for user, phone_seen in (("analyst", "138****8000"), ("root", "13800138000")):
            page = open_page(browser, problems)
            sign_in_at(page, f"{live}/dashboard/signin", user, PASSWORD)
            page.goto(f"{live}/dashboard/tickets/{TICKET.sync_key}")
            card = page.locator("#message")

            card.get_by_label("消息").select_option(label="进度通报")
            card.get_by_label("渠道").select_option(label="短信")
            card.get_by_label("补充内容（方案、进度等）").fill("我们会尽快处理，请回电13912345678")
            card.get_by_role("button", name="预览").click()
            preview = page.locator("#message-preview")
            expect(preview.locator(".findings")).to_contain_text("尽快")
            expect(preview.locator(".findings")).to_contain_text("明确的时限")
            expect(preview.locator(".to")).to_have_text(phone_seen)
            body = preview.locator(".body").inner_text()
            assert "SZ01-20261125-0001" in body and "我们会尽快处理" in body
            assert ("13912345678" in body) is (user == "root") and ("139****5678" in body) is (user != "root")
            expect(card.get_by_label("补充内容（方案、进度等）")).to_have_value(
                "我们会尽快处理，请回电13912345678"
            )
            page.context.close()

        refused: list[str] = []  # the refused send answers 4xx: the browser logs it as an error
        page = open_page(browser, refused)
        sign_in_at(page, f"{live}/dashboard/signin", "analyst", PASSWORD)
        page.goto(f"{live}/dashboard/tickets/{TICKET.sync_key}")
        expect(page.locator(".ticket-head")).to_contain_text("承诺未书面确认")
        card = page.locator("#message")
        expect(card.get_by_label("渠道")).to_have_value("sms")  # the customer prefers 短信
        card.get_by_label("消息").select_option(label="方案沟通")
        card.get_by_role("button", name="发送").click()  # a plan message without the plan is refused
        expect(card.locator(".flash-error")).to_contain_text("消息内容")

        card.get_by_label("消息").select_option(label="书面确认")
        card.get_by_role("button", name="预览").click()
        expect(page.locator("#message-preview .findings-clean")).to_be_visible()
        expect(page.locator("#message-preview .body")).to_contain_text("补偿承诺：赠送3个月提速")
        card.get_by_role("button", name="发送").click()
        expect(page.locator(".flash-success")).to_contain_text("已发送“书面确认”至 138****8000")
        expect(page.locator(".ticket-head")).not_to_contain_text("承诺未书面确认")
        log = page.locator("table.compact:not(.history) tbody tr").filter(has_text="书面确认")
        expect(log).to_contain_text("赠送3个月提速")
        expect(log).to_contain_text("短信")
        browser.close()
    assert problems == []
