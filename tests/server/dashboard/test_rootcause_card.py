"""The ticket page's root-cause card: phone numbers masked, the mask never saved, refusals shown beside it."""

from __future__ import annotations

import html

from flask import Flask

from server.storage.db import get_db
from server.storage.models import TicketRow
from tests.phones import unmasked
from tests.server.api.test_sync_api import create
from tests.server.dashboard.conftest import branch_token, csrf_of, sign_in

OWNER = "王工 13812345678"
CAUSE = "光猫老化，用户 0755-83201234 反映"


def traced(demo_app: Flask) -> str:
    token = branch_token(demo_app, "SZ01")
    row = create(
        demo_app.test_client(),
        token,
        ticket_id="SZ01-20261125-9101",
        root_cause=CAUSE,
        improvement="更换光猫",
        measure_owner=OWNER,
        measure_due="2026-12-10",
    )
    return row["sync_key"]


def post(client, key: str, **changes: str):
    page = client.get(f"/dashboard/tickets/{key}").text
    form = {
        "csrf_token": csrf_of(page),
        "fishbone": "",
        "root_cause": html.unescape(_value(page, "root_cause")),
        "improvement": "更换光猫",
        "measure_owner": html.unescape(_value(page, "measure_owner")),
        "measure_due": "2026-12-10",
        "measure_status": "planned",
        "measure_done_at": "",
    }
    return client.post(f"/dashboard/tickets/{key}/rootcause", data=form | changes)


def _value(page: str, name: str) -> str:
    """What the card's form shows in field ``name`` (an input's value or a textarea's text)."""
    start = page.index(f'name="{name}"')
    if page[start - 30 : start].rfind("<textarea") >= 0:
        return page[page.index(">", start) + 1 : page.index("</textarea>", start)]
    value = page.index('value="', start) + len('value="')
    return page[value : page.index('"', value)]


def stored(demo_app: Flask, key: str) -> TicketRow:
    with demo_app.app_context(), get_db().read() as session:
        row = session.get_one(TicketRow, key)
        session.expunge(row)
        return row


def test_the_card_masks_phone_numbers_for_head_office_and_shows_them_to_admin(demo_app, analyst):
    key = traced(demo_app)
    page = html.unescape(analyst.get(f"/dashboard/tickets/{key}").text)
    assert unmasked(page) == []
    assert 'value="王工 138****5678"' in page
    admin = demo_app.test_client()
    sign_in(admin, "root")
    page = html.unescape(admin.get(f"/dashboard/tickets/{key}").text)
    assert OWNER in page and "0755-83201234" in page


def test_saving_the_card_as_shown_keeps_the_numbers_head_office_could_not_see(demo_app, analyst):
    key = traced(demo_app)
    response = post(analyst, key, fishbone="network")
    assert response.status_code == 302 and response.headers["Location"].endswith("#rootcause")
    row = stored(demo_app, key)
    assert (row.fishbone, row.measure_owner, row.root_cause) == ("network", OWNER, CAUSE)
    response = post(analyst, key, measure_owner="李工")  # a text changed on purpose is saved
    assert stored(demo_app, key).measure_owner == "李工"


def test_a_refused_value_is_shown_beside_the_card_and_nothing_is_stored(demo_app, analyst):
    key = traced(demo_app)
    demo_app.config["ROOT_CAUSE_CATEGORIES"] = ["network", "process"]
    response = post(analyst, key, fishbone="partner", measure_owner="李工")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    card = page[page.index('id="rootcause"') :]
    assert "根因类别“合作方”未启用" in card[: card.index("</section>")]
    assert 'value="李工"' in card  # what was typed is kept in the form
    row = stored(demo_app, key)
    assert (row.fishbone, row.measure_owner) == (None, OWNER)
    response = post(analyst, key, measure_due="2026-13-40")
    assert response.status_code == 422 and "日期或选项无法识别" in response.get_data(as_text=True)
