"""Sign-out ends the session server-side; /admin has the dashboard's CSP and frame protection; bad
``next=`` targets and out-of-range dates are a 400 in the page's language, never a 500."""

from __future__ import annotations

import base64

import pytest

from tests.server.dashboard.conftest import PASSWORD, csrf_of, sign_in


def test_a_session_cookie_copied_before_sign_out_no_longer_signs_in_after_it(demo_app, analyst):
    copied = analyst.get_cookie("session").value
    assert analyst.get("/dashboard/").status_code == 200
    token = csrf_of(analyst.get("/dashboard/").text)
    assert analyst.post("/dashboard/signout", data={"csrf_token": token}).status_code == 302
    thief = demo_app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/dashboard/")
    assert response.status_code == 302 and "/dashboard/signin" in response.headers["Location"]


def test_signing_in_again_after_sign_out_works(demo_app, analyst):
    token = csrf_of(analyst.get("/dashboard/").text)
    analyst.post("/dashboard/signout", data={"csrf_token": token})
    sign_in(analyst)
    assert analyst.get("/dashboard/").status_code == 200


def test_the_admin_page_forbids_framing_and_inline_code_without_its_nonce(demo_app):
    auth = base64.b64encode(f"root:{PASSWORD}".encode()).decode()
    response = demo_app.test_client().get("/admin/scheduler", headers={"Authorization": f"Basic {auth}"})
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    nonce = policy.split("style-src 'self' 'nonce-", 1)[1].split("'", 1)[0]
    assert f'<style nonce="{nonce}">' in response.text  # the page's own style still applies
    refused = demo_app.test_client().get("/admin/scheduler")
    assert refused.status_code == 401 and refused.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("target", ["/dashboard/\nSet-Cookie: x=1", "/dashboard/\r\nx", "/dashboard/\x00"])
def test_a_line_break_in_next_is_a_400_naming_it_not_a_500(demo_app, target):
    client = demo_app.test_client()
    token = csrf_of(client.get("/dashboard/signin").text)
    form = {"username": "analyst", "password": PASSWORD, "csrf_token": token, "next": target}
    response = client.post("/dashboard/signin", data=form)
    assert response.status_code == 400
    assert "next" in response.text and "换行" in response.text
    switch = client.get("/dashboard/lang/en", query_string={"next": target})
    assert switch.status_code == 400 and "换行" in switch.text
    english = client.get("/dashboard/lang/en", query_string={"next": target, "lang": "en"})
    assert english.status_code == 400 and "line break" in english.text


@pytest.mark.parametrize("name", ["received_to", "received_from"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_receipt_day_out_of_range_is_a_400_naming_the_field(analyst, name, day):
    response = analyst.get("/dashboard/tickets", query_string={name: day})
    assert response.status_code == 400
    assert "受理日期" in response.text and "2000-01-01" in response.text
    english = analyst.get("/dashboard/tickets", query_string={name: day, "lang": "en"})
    assert "Received" in english.text and "must lie between" in english.text
