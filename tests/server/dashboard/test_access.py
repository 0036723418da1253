"""Who may use the dashboard, CSRF on every form, security headers, language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.storage.db import get_db
from server.storage.models import TicketRow
from tests.server.dashboard.conftest import add_user, branch_token, csrf_of, sign_in

PAGES = ["/dashboard/", "/dashboard/tickets", "/dashboard/downloads"]


def a_ticket(app, level: str = "blue") -> TicketRow:
    with app.app_context(), get_db().read() as session:
        return session.scalars(select(TicketRow).where(TicketRow.level == level).limit(1)).one()


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_a_visitor_to_sign_in_and_back(demo_app, path):
    client = demo_app.test_client()
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/dashboard/signin?next=/dashboard")
    signed_in = client.get(response.headers["Location"])
    token = csrf_of(signed_in.text)
    back = client.post(
        "/dashboard/signin",
        data={"username": "analyst", "password": "s3cret-pass", "csrf_token": token, "next": path},
    )
    assert back.headers["Location"] == path
    assert client.get(path).status_code == 200


def test_a_ticket_page_is_not_shown_without_signing_in(demo_app):
    ticket = a_ticket(demo_app)
    response = demo_app.test_client().get(f"/dashboard/tickets/{ticket.sync_key}")
    assert response.status_code == 302
    assert ticket.description not in response.text


def test_a_branch_token_does_not_open_the_dashboard(demo_app):
    headers = {"Authorization": f"Bearer {branch_token(demo_app, 'SZ01')}"}
    client = demo_app.test_client()
    response = client.get("/dashboard/tickets", headers=headers)
    assert response.status_code == 302 and "/dashboard/signin" in response.headers["Location"]
    ticket = a_ticket(demo_app)
    assert client.get(f"/dashboard/tickets/{ticket.sync_key}", headers=headers).status_code == 302


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("analyst", "wrong"),
        ("nobody", "s3cret-pass"),
        ("disabled", "s3cret-pass"),
        ("branchuser", "s3cret-pass"),
    ],
)
def test_sign_in_is_refused_with_a_message(demo_app, username, password):
    add_user(demo_app, "disabled", "head_office", active=False)
    add_user(demo_app, "branchuser", "branch")
    client = demo_app.test_client()
    token = csrf_of(client.get("/dashboard/signin").text)
    response = client.post(
        "/dashboard/signin", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.text
    assert client.get("/dashboard/").status_code == 302


def test_signing_out_ends_the_session(analyst):
    token = csrf_of(analyst.get("/dashboard/").text)
    assert analyst.post("/dashboard/signout", data={"csrf_token": token}).status_code == 302
    assert analyst.get("/dashboard/").status_code == 302


def test_sign_in_without_the_csrf_token_is_refused(demo_app):
    client = demo_app.test_client()
    client.get("/dashboard/signin")
    response = client.post("/dashboard/signin", data={"username": "analyst", "password": "s3cret-pass"})
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_escalation_without_the_sessions_csrf_token_changes_nothing(demo_app, analyst, token):
    ticket = a_ticket(demo_app)
    data = {"reason": "客户在微博投诉", **({"csrf_token": token} if token else {})}
    response = analyst.post(f"/dashboard/tickets/{ticket.sync_key}/escalate", data=data)
    assert response.status_code == 400
    assert "CSRF" in response.text
    assert a_ticket_by_key(demo_app, ticket.sync_key).level == "blue"


def a_ticket_by_key(app, key: str) -> TicketRow:
    with app.app_context(), get_db().read() as session:
        row = session.get(TicketRow, key)
        assert row is not None
        return row


def test_signing_in_gives_a_new_session_token(demo_app):
    client = demo_app.test_client()
    before = csrf_of(client.get("/dashboard/signin").text)
    sign_in(client)
    after = csrf_of(client.get("/dashboard/").text)
    assert before != after


@pytest.mark.parametrize(
    "path", ["/dashboard/signin", "/dashboard/", "/dashboard/tickets", "/dashboard/nope"]
)
def test_every_dashboard_response_has_the_security_headers(analyst, path):
    response = analyst.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_pages_have_no_inline_scripts_and_load_nothing_from_elsewhere(analyst):
    for path in PAGES:
        html = analyst.get(path).text
        assert "<script" not in html
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in html
    with analyst.get("/dashboard/static/dashboard.css") as css:
        assert css.status_code == 200 and css.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_httponly_and_samesite_lax(demo_app):
    client = demo_app.test_client()
    sign_in(client)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_sign_in_never_redirects_to_another_site(demo_app):
    client = demo_app.test_client()
    token = csrf_of(client.get("/dashboard/signin").text)
    response = client.post(
        "/dashboard/signin",
        data={
            "username": "analyst",
            "password": "s3cret-pass",
            "csrf_token": token,
            "next": "//evil.example/",
        },
    )
    assert response.headers["Location"] == "/dashboard/"


def test_chinese_by_default_english_on_request_and_remembered(analyst):
    assert "总览" in analyst.get("/dashboard/").text
    switched = analyst.get("/dashboard/lang/en?next=/dashboard/tickets")
    assert switched.headers["Location"] == "/dashboard/tickets"
    page = analyst.get("/dashboard/tickets").text
    assert "Overview" in page and "Ticket ID" in page and "Warning level" in page
    assert "总览" not in page
    assert "Received at" in analyst.get("/dashboard/tickets?lang=en").text
    assert "受理时间" in analyst.get("/dashboard/tickets?lang=zh").text
    away = analyst.get("/dashboard/lang/zh?next=https://evil.example/dashboard")
    assert away.headers["Location"] == "/dashboard/"
