"""Head office's pages show no full phone number anywhere, and searching by one confirms nothing hidden."""

from __future__ import annotations

import html
from urllib.parse import unquote

from flask import Flask
from flask.testing import FlaskClient

from tests.phones import LANDLINES, MOBILES, unmasked
from tests.server.api.test_masking_api import seed
from tests.server.api.test_sync_api import create
from tests.server.dashboard.conftest import branch_token, csrf_of, sign_in

TICKET_ID = "SZ01-20261125-9001"
EVERY_NUMBER = sorted({s.digits for s in MOBILES + LANDLINES})


def seeded(demo_app: Flask) -> str:
    return seed(demo_app.test_client(), branch_token(demo_app, "SZ01"), TICKET_ID)


def shown(page: str) -> list[str]:
    return unmasked(html.unescape(page))


def search(client: FlaskClient, q: str) -> tuple[str, str]:
    """Post the list's search form; the address it redirects to and the list shown there."""
    token = csrf_of(client.get("/dashboard/tickets").text)
    posted = client.post("/dashboard/tickets", data={"q": q, "csrf_token": token})
    assert posted.status_code == 302
    return unquote(posted.headers["Location"]), client.get(posted.headers["Location"]).text


def test_ticket_page_masks_header_fields_tasks_log_and_history_for_head_office(demo_app, analyst):
    key = seeded(demo_app)
    page = analyst.get(f"/dashboard/tickets/{key}").text
    assert shown(page) == []
    assert "王先生 139 **** 5678" in page and "李工 186****5678" in html.unescape(page)
    admin = demo_app.test_client()
    sign_in(admin, "root")
    assert shown(admin.get(f"/dashboard/tickets/{key}").text) == EVERY_NUMBER  # so the check can fail


def test_ticket_list_masks_names_descriptions_and_their_tooltips(demo_app, analyst):
    seeded(demo_app)
    page = analyst.get("/dashboard/tickets", query_string={"q": TICKET_ID}).text
    assert TICKET_ID in page and shown(page) == []
    assert 'title="138****8000；138 **** 8000；' in page  # the description's tooltip, masked like the cell


def test_searching_by_a_full_number_finds_the_ticket_without_the_number_in_any_address(demo_app, analyst):
    seeded(demo_app)
    for typed in ("13800138000", "138 0013 8000", "１３８００１３８０００"):
        address, page = search(analyst, typed)
        assert unmasked(address) == [] and "****" in address
        assert TICKET_ID in page and shown(page) == []
    again = analyst.get("/dashboard/tickets", query_string={"q": "13800138000"})
    assert again.status_code == 302 and unquote(again.headers["Location"]).endswith("q=138****8000")


def test_searching_hidden_digits_confirms_nothing_to_head_office_but_finds_them_for_admin(demo_app, analyst):
    seeded(demo_app)
    _, page = search(analyst, "0013 80")  # the middle of 138-0013-8000, hidden from head office
    assert TICKET_ID not in page
    admin = demo_app.test_client()
    sign_in(admin, "root")
    _, page = search(admin, "0013 80")
    assert TICKET_ID in page


def test_overview_masks_numbers_in_departments_root_causes_and_measures_for_head_office(demo_app, analyst):
    token = branch_token(demo_app, "SZ01")
    extra = {
        "department": "网络部 0755-83201234",
        "root_cause": "光猫老化，用户 13800138000",
        "improvement": "回访 139 1234 5678",
    }
    create(demo_app.test_client(), token, ticket_id="SZ01-20261125-9002", **extra)
    page = analyst.get("/dashboard/").text
    assert shown(page) == []
    assert "网络部 0755-****1234" in page and "光猫老化，用户 138****8000" in page
    admin = demo_app.test_client()
    sign_in(admin, "root")
    assert shown(admin.get("/dashboard/").text) == ["075583201234", "13800138000", "13912345678"]
