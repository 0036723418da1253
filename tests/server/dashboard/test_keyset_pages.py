"""The ticket list's keyset pages and its search index, on SQLite and PostgreSQL.

Tickets are pushed through the sync API (the one service writes them and their
figures; the search index catches up before a search); the list is read as a
head-office analyst reads it, following its links.
"""

from __future__ import annotations

import html
import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy import text as sql

from server.auth import ADMIN, HEAD_OFFICE
from server.dashboard import queries
from server.scheduling.jobs import flag_scan
from server.storage import search
from server.storage.db import get_db
from server.storage.models import BranchRow, TicketRow, search_table
from server.storage.search import query_terms, terms_of
from tests.browsing import ARGS, CHROMIUM, open_page, sign_in_at
from tests.server.api.conftest import NOW, add_branch
from tests.server.api.test_sync_api import new_fields, sync
from tests.server.dashboard.conftest import PASSWORD, add_user, branch_token, sign_in
from tests.server.dashboard.test_browser import live_url  # noqa: F401 (fixture)

_ROW = re.compile(r'<a href="/dashboard/tickets/([0-9a-f]{32})">([^<]+)</a>')
_LINK = re.compile(r'<a href="([^"]+)" rel="(next|prev)">')
_TOTAL = re.compile(r"共 (\d+) 条")
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
DESCRIPTIONS = ("每晚八点宽带断线", "话费多扣了二十元", "营业员态度生硬", "光猫指示灯常亮红灯")


def push_tickets(app: Flask, code: str, count: int, seed: int) -> None:
    """``count`` new tickets of branch ``code`` in one push, received at five moments only (many ties)."""
    rng = random.Random(seed)
    token = add_branch(app, code)
    tickets = []
    for n in range(count):
        received = START + timedelta(hours=rng.randrange(5))
        fields = new_fields(
            f"{code}-20261120-{n:04d}",
            received_at=received.isoformat(),
            category=rng.choice(("network_fault", "billing_dispute")),
            description=rng.choice(DESCRIPTIONS),
            customer_name=rng.choice(("张先生", "李女士")),
            contact=f"1390000{seed:02d}{n:02d}",
        )
        tickets.append({"sync_key": uuid.uuid4().hex, "fields": fields})
    sync(app.test_client(), token, {"tickets": tickets})


@pytest.fixture
def listed_app(app: Flask) -> Flask:
    """Two branches of 82 and 77 tickets (two pages and more), an analyst and an admin."""
    push_tickets(app, "SZ01", 82, 1)
    push_tickets(app, "GZ01", 77, 2)
    add_user(app, "analyst", HEAD_OFFICE)
    add_user(app, "root", ADMIN)
    return app


@pytest.fixture
def analyst(listed_app: Flask) -> FlaskClient:
    client = listed_app.test_client()
    sign_in(client, "analyst")
    return client


def stored_order(app: Flask, keep: Any) -> list[str]:
    """Sync keys of the tickets ``keep`` admits, newest first, ties by sync key (the list's order)."""
    with app.app_context(), get_db().read() as session:
        rows = session.execute(select(TicketRow, BranchRow.code).join(BranchRow)).all()
    chosen = [t for t, code in rows if keep(t, code)]
    return [t.sync_key for t in sorted(chosen, key=lambda t: (t.received_at, t.sync_key), reverse=True)]


def page(client: FlaskClient, url: str) -> tuple[list[str], dict[str, str], str]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    links = {rel: html.unescape(href) for href, rel in _LINK.findall(response.text)}
    return [key for key, _ in _ROW.findall(response.text)], links, response.text


def walk(client: FlaskClient, url: str, rel: str) -> tuple[list[list[str]], int]:
    """The pages met following ``rel`` links from ``url``, in the order met, and the total announced."""
    pages = []
    while True:
        keys, links, text = page(client, url)
        pages.append(keys)
        if rel not in links:
            return pages, int(_TOTAL.search(text)[1])
        url = links[rel]


FILTERS = [
    ({}, lambda t, code: True),
    ({"branch": "SZ01"}, lambda t, code: code == "SZ01"),
    ({"category": "billing_dispute"}, lambda t, code: t.category == "billing_dispute"),
    (
        {"branch": ["SZ01", "GZ01"], "category": "network_fault"},
        lambda t, code: t.category == "network_fault",
    ),
]


def test_walking_forward_and_back_shows_every_ticket_once_in_order(listed_app, analyst):
    for params, keep in FILTERS:
        walk_both_ways(listed_app, analyst, params, keep)


def walk_both_ways(listed_app: Flask, analyst: FlaskClient, params: dict[str, Any], keep: Any) -> None:
    expected = stored_order(listed_app, keep)
    assert len(expected) > 50  # at least two pages
    query = "&".join(
        f"{name}={value}"
        for name, values in params.items()
        for value in ([values] if isinstance(values, str) else values)
    )
    forward, total = walk(analyst, f"/dashboard/tickets?{query}", "next")
    assert [k for p in forward for k in p] == expected and total == len(expected)
    assert all(len(p) == 50 for p in forward[:-1])

    _, links, text = page(analyst, f"/dashboard/tickets?{query}")
    last = html.unescape(re.search(r'<a href="([^"]+)">末页', text)[1])
    assert "last=1" in last and "prev" not in links and "首页" not in text
    backward, _ = walk(analyst, last, "prev")
    assert [k for p in reversed(backward) for k in p] == expected
    assert all(len(p) == 50 for p in backward[:-1])  # from the end: full pages, the top one what is left
    _, links, text = page(analyst, last)
    assert "next" not in links and "末页" not in text and "首页" in text
    assert int(_TOTAL.search(text)[1]) == len(expected)  # every page counts the whole list


def test_a_page_address_is_a_bookmark(listed_app, analyst):
    _, links, _ = page(analyst, "/dashboard/tickets?branch=SZ01")
    second, _, _ = page(analyst, links["next"])
    other = listed_app.test_client()
    sign_in(other, "analyst")
    assert page(other, links["next"])[0] == second
    assert (
        page(other, "/dashboard/tickets?branch=SZ01&after=garbage")[0]
        == page(other, "/dashboard/tickets?branch=SZ01")[0]
    )


def searched(client: FlaskClient, q: str) -> tuple[set[str], str]:
    """Ticket numbers the list finds for ``q`` (every page), and the first page."""
    found: set[str] = set()
    response = client.get("/dashboard/tickets", query_string={"q": q}, follow_redirects=True)
    first = response.text
    while True:
        found |= {number for _, number in _ROW.findall(response.text)}
        following = _LINK.search(response.text)
        if following is None or following[2] != "next":
            return found, first
        response = client.get(html.unescape(following[1]))


def numbers(app: Flask, keep: Any) -> set[str]:
    with app.app_context(), get_db().read() as session:
        return {t.ticket_id for t in session.scalars(select(TicketRow)) if keep(t)}


SEARCHES = [
    ("宽带", lambda t: "宽带" in t.description),  # two Chinese characters
    ("红灯", lambda t: "红灯" in t.description),
    ("猫", lambda t: "猫" in t.description),  # one
    ("李女", lambda t: t.customer_name.startswith("李女")),
    ("宽带断线", lambda t: "宽带断线" in t.description),
    ("断线宽带", lambda t: False),  # both words are there, never in this order
    ("GZ01-20261120-0042", lambda t: t.ticket_id == "GZ01-20261120-0042"),
    ("gz01-20261120-004", lambda t: t.ticket_id.startswith("GZ01-20261120-004")),
    ("Gz01-20261120-0042", lambda t: t.ticket_id == "GZ01-20261120-0042"),  # case folded
    ("SZ01-2026112", lambda t: t.ticket_id.startswith("SZ01-")),  # a piece of seven digits
    ("20261120-0042", lambda t: t.ticket_id.endswith("-20261120-0042")),
    ("0261120-004", lambda t: "-20261120-004" in t.ticket_id),
    ("SZ01-20261121", lambda t: False),  # every ticket holds its trigrams, none the number
    ("1390000", lambda t: False),  # in every phone number, but only in the digits masked
    ("火箭", lambda t: False),
]


@pytest.mark.parametrize("cap", [queries.SEARCH_CAP, 1])
def test_search_finds_exactly_the_tickets_holding_the_text(listed_app, analyst, monkeypatch, cap):
    """Narrowed to the index's candidates, or (more candidates than the cap) walking the list's order; the
    count says as many (digits in a number's masked part count for nothing)."""
    monkeypatch.setattr(queries, "SEARCH_CAP", cap)
    for q, keep in SEARCHES:
        found, first = searched(analyst, q)
        assert found == numbers(listed_app, keep), q
        total = _TOTAL.search(first)
        assert (int(total[1]) if total else 0) == len(found), q
    assert [q for q, keep in SEARCHES if not numbers(listed_app, keep)] == [
        "断线宽带",
        "SZ01-20261121",
        "1390000",
        "火箭",
    ]


@pytest.mark.parametrize("cap", [queries.SEARCH_CAP, 1])
def test_digits_of_a_phone_number_are_found_as_the_viewer_sees_the_number(
    listed_app, analyst, monkeypatch, cap
):
    """Six digits and more (looked up by their six-grams): an administrator finds them anywhere in the
    number, a viewer who sees numbers masked only in the digits shown."""
    monkeypatch.setattr(queries, "SEARCH_CAP", cap)
    admin = listed_app.test_client()
    sign_in(admin, "root")
    assert searched(admin, "00000142")[0] == {"SZ01-20261120-0042"}  # contact 13900000142
    assert searched(admin, "139000001")[0] == numbers(listed_app, lambda t: t.ticket_id.startswith("SZ01"))
    assert searched(analyst, "00000142")[0] == set()  # 139****0142: the first four lie in the mask
    assert searched(analyst, "139****0142")[0] == {"SZ01-20261120-0042"}


def test_a_longer_piece_of_a_number_narrows_the_search_to_the_tickets_holding_it(listed_app, analyst):
    """Every ticket holds the trigrams of 20261121 (2026112x, 121 in 13900000121's phone number or not:
    202, 611 and 121 tile it), none its six-grams: the index alone says no ticket has it."""
    searched(analyst, "火箭")  # the index caught up
    with listed_app.app_context(), get_db().read() as session:
        assert search.candidates(session, query_terms("20261121"), queries.SEARCH_CAP).keys == []
        held = search.candidates(session, query_terms("GZ01-20261120-0042"), queries.SEARCH_CAP).keys
        numbered = session.scalars(select(TicketRow.ticket_id).where(TicketRow.sync_key.in_(held or [])))
        assert set(numbered) == {"GZ01-20261120-0042"}


@pytest.mark.parametrize("expected", [0, 10**6])
def test_a_search_the_planner_misjudges_finds_the_same_tickets(listed_app, analyst, monkeypatch, expected):
    """PostgreSQL reads a search's candidates with their places only up to `search.PLACED_AT_MOST`: when its
    planner expected fewer than there are (0), the list's order is walked with the ``LIKE``; when it
    expects more (a million), a one-term search walks it at once and a longer one asks the index whether
    few tickets hold all its terms. On SQLite the planner is not asked. The same tickets every way."""
    monkeypatch.setattr(queries, "SEARCH_CAP", 1)
    monkeypatch.setattr(search, "PLACED_AT_MOST", 2)
    monkeypatch.setattr(search, "_expected", lambda session, terms: expected)
    for q, keep in SEARCHES:
        assert searched(analyst, q)[0] == numbers(listed_app, keep), q


def test_terms_nearly_every_ticket_holds_are_not_looked_up_and_the_search_finds_the_same(
    listed_app, analyst, monkeypatch
):
    """PostgreSQL: a term its statistics give to more than half the tickets (202611: every ticket of
    November) narrows little and costs most of the lookup, so it is left out; the rarest term is always
    looked up, and the ``LIKE`` still decides."""
    if listed_app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("FTS5 reads a term's list only as far as the rarer ones lead it")
    searched(analyst, "火箭")  # the index caught up
    with listed_app.app_context(), get_db().write() as session:
        session.execute(sql("ANALYZE ticket_search"))
    with listed_app.app_context(), get_db().read() as session:
        terms = query_terms("SZ01-20261120-00")
        narrowed = search._narrowing(session, terms)
        assert "202611" in terms and "202611" not in narrowed and narrowed
        everywhere = query_terms("2026112")  # 202611 and 026112: both in every ticket
        assert len(search._narrowing(session, everywhere)) == 1
    monkeypatch.setattr(queries, "SEARCH_CAP", 1)
    asked = ("SZ01-20261120-00", "2026112", "GZ01-20261120-0042", "SZ01-2026112")
    found = {q: searched(analyst, q)[0] for q in asked}
    monkeypatch.setattr(search, "COMMON", 1.0)  # every term looked up
    assert {q: searched(analyst, q)[0] for q in asked} == found
    assert found["GZ01-20261120-0042"] == {"GZ01-20261120-0042"} and found["SZ01-20261120-00"]


@pytest.mark.parametrize("cap", [queries.SEARCH_CAP, 1])
def test_a_full_phone_number_finds_its_ticket_and_the_list_shows_it_masked(
    listed_app, analyst, monkeypatch, cap
):
    monkeypatch.setattr(queries, "SEARCH_CAP", cap)
    with listed_app.app_context(), get_db().read() as session:
        number, phone = session.execute(
            select(TicketRow.ticket_id, TicketRow.contact).where(TicketRow.ticket_id == "SZ01-20261120-0007")
        ).one()
    found, first = searched(analyst, phone)
    assert number in found and phone not in first and f"{phone[:3]}****{phone[-4:]}" in first
    admin = listed_app.test_client()
    sign_in(admin, "root")
    found, first = searched(admin, phone)
    assert number in found and phone in first


def test_a_change_through_sync_is_found_by_the_next_search(listed_app, analyst):
    with listed_app.app_context(), get_db().read() as session:
        row = session.scalars(select(TicketRow).where(TicketRow.ticket_id == "SZ01-20261120-0003")).one()
        key, version, before = row.sync_key, row.version, row.description
    change = {"sync_key": key, "base_version": version, "fields": {"description": "小区信号塔拆除后无信号"}}
    pushed = sync(listed_app.test_client(), branch_token(listed_app, "SZ01"), {"tickets": [change]})
    assert not pushed["pushed"]["tickets"][0]["conflicts"], pushed
    assert searched(analyst, "信号塔")[0] == {"SZ01-20261120-0003"}
    assert "SZ01-20261120-0003" not in searched(analyst, before)[0]


def test_a_ticket_pushed_is_found_by_the_next_search_and_the_flag_scan_catches_the_index_up(
    listed_app, analyst
):
    """The push leaves the index behind; the search catches it up first, and so does the scheduled scan."""
    searched(analyst, "宽带")
    token = branch_token(listed_app, "GZ01")
    for n, text in ((90, "小区信号塔拆除后无信号"), (91, "路由器冒烟")):
        fields = new_fields(f"GZ01-20261120-{n:04d}", received_at=START.isoformat(), description=text)
        sync(listed_app.test_client(), token, {"tickets": [{"sync_key": uuid.uuid4().hex, "fields": fields}]})
    with listed_app.app_context(), get_db().read() as session:
        gz01 = session.scalar(select(BranchRow.id).where(BranchRow.code == "GZ01"))
        assert [branch_id for branch_id, _ in search.lagging(session)] == [gz01]
    assert searched(analyst, "信号塔")[0] == {"GZ01-20261120-0090"}
    assert searched(analyst, "冒烟")[0] == {"GZ01-20261120-0091"}
    with listed_app.app_context(), get_db().read() as session:
        assert search.lagging(session) == []

    fields = new_fields("SZ01-20261120-0092", received_at=START.isoformat(), description="机顶盒无信号源")
    change = {"sync_key": uuid.uuid4().hex, "fields": fields}
    sync(listed_app.test_client(), branch_token(listed_app, "SZ01"), {"tickets": [change]})
    with listed_app.app_context():
        assert "1 indexed for search" in flag_scan(NOW).detail
        with get_db().read() as session:
            assert search.lagging(session) == []
            assert session.scalar(select(func.count()).select_from(search_table)) == 82 + 77 + 3
    assert searched(analyst, "信号源")[0] == {"SZ01-20261120-0092"}


def test_every_substring_holds_the_terms_of_the_ticket_it_is_in():
    """The index only narrows: a ticket whose text contains the query always holds all the query's terms."""
    rng = random.Random(7)
    for alphabet, longest in (("宽带断线光猫ab5G0138-*（ ）ÄßİK", 16), ("0012389aBzZ-宽 ", 40)):  # long runs
        for _ in range(3000):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, longest)))
            start = rng.randrange(len(text))
            q = text[start : rng.randrange(start + 1, len(text) + 1)]
            assert set(query_terms(q)) <= set(terms_of([text]).split()), (text, q)
            assert set(query_terms(q.swapcase())) <= set(terms_of([text]).split()), (text, q)


def test_next_last_previous_and_first_in_chromium(live_url: str) -> None:  # noqa: F811
    """The demo's tickets (two pages and more): the pager's links walk them, each page an address."""
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems)
        sign_in_at(page, f"{live_url}/dashboard/", "analyst", PASSWORD)
        page.get_by_role("link", name="投诉单", exact=True).click()
        numbers = page.locator("table.tickets tbody tr td:first-child")
        pager = page.locator("nav.pager")

        def shown() -> list[str]:
            expect(numbers.first).to_be_visible()
            return numbers.all_inner_texts()

        def follow(name: str, address: str) -> list[str]:
            pager.get_by_role("link", name=name).click()
            expect(page).to_have_url(re.compile(address))
            return shown()

        first = shown()
        total = int(_TOTAL.search(page.locator("p.summary").inner_text())[1])
        assert len(first) == 50 and 100 < total < 150
        expect(pager.get_by_role("link", name="上一页")).to_have_count(0)
        second = follow("下一页", r"after=")
        third = follow("下一页", r"after=")
        assert len(second) == 50 and len(third) == total - 100
        expect(pager.get_by_role("link", name="下一页")).to_have_count(0)
        expect(pager.get_by_role("link", name="末页")).to_have_count(0)

        assert follow("首页", r"/dashboard/tickets$") == first
        last = follow("末页", r"last=1")
        assert last == second[total - 100 :] + third
        back = follow("上一页", r"before=")
        top = follow("上一页", r"before=")
        assert top + back + last == first + second + third  # back to the top, each ticket once
        expect(pager.get_by_role("link", name="上一页")).to_have_count(0)
        assert follow("下一页", r"after=") == back
        assert follow("首页", r"/dashboard/tickets$") == first
        browser.close()
    assert not problems, problems


def test_the_list_counts_up_to_its_cap_then_says_more(listed_app, analyst, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CAP", 100)
    assert "超过 100 条" in analyst.get("/dashboard/tickets").text
    assert "共 82 条" in analyst.get("/dashboard/tickets?branch=SZ01").text


BROAD = [
    ("20261120", {}, lambda t, code: True),
    ("张先", {}, lambda t, code: t.customer_name.startswith("张先")),
    ("20261120", {"category": "billing_dispute"}, lambda t, code: t.category == "billing_dispute"),
    ("SZ01-2026", {}, lambda t, code: code == "SZ01"),  # digits, for a viewer who sees numbers masked
]


@pytest.mark.parametrize("cost", [0, 10**6])
@pytest.mark.parametrize("budget", [queries.WALK_BUDGET, 100, 5])
def test_a_broad_search_reads_its_pages_from_the_candidates_newest_first(
    listed_app, analyst, monkeypatch, budget, cost
):
    """More candidates than listed: each page comes from the index's candidates read by place, a few at a
    time, every second read whole (five receipt moments only: dozens of tickets share each second, and
    tight slots make them compete); the same pages as walking the list, both ways. A budget too small to
    count (100) or to fill a page (5) walks the list's order for it instead: the same pages and counts.
    With filters, the candidates are read on (``cost`` 0) or the list's order is judged cheaper after the
    first batch (a million): the same pages and counts."""
    monkeypatch.setattr(queries, "SEARCH_CAP", 1)
    monkeypatch.setattr(queries, "WALK_BUDGET", budget)
    monkeypatch.setattr(queries, "CANDIDATE_COST", cost)
    monkeypatch.setattr(search, "FIRST_BATCH", 3)
    for q, params, keep in BROAD:
        walk_both_ways(listed_app, analyst, {"q": q, **params}, keep)


def test_search_places_follow_receipt_seconds_also_when_a_receipt_time_is_corrected(
    listed_app, analyst, monkeypatch
):
    monkeypatch.setattr(queries, "SEARCH_CAP", 1)
    monkeypatch.setattr(search, "FIRST_BATCH", 3)
    searched(analyst, "火箭")  # the index caught up
    with listed_app.app_context(), get_db().read() as session:
        oldest = session.scalars(select(TicketRow).order_by(TicketRow.received_at)).first()
        key, version = oldest.sync_key, oldest.version
        places = dict(session.execute(select(search_table.c.sync_key, search_table.c.id)).all())
        received = dict(session.execute(select(TicketRow.sync_key, TicketRow.received_at)).all())
    assert len(set(places.values())) == len(places) == 159
    assert all(search.second_of(received[k]) == search.second_of_place(place) for k, place in places.items())
    moved = (START + timedelta(hours=6)).isoformat()
    change = {"sync_key": key, "base_version": version, "fields": {"received_at": moved}}
    pushed = sync(listed_app.test_client(), branch_token(listed_app, "SZ01"), {"tickets": [change]})
    assert not pushed["pushed"]["tickets"][0]["conflicts"], pushed
    first, _, _ = page(analyst, "/dashboard/tickets?q=20261120")
    assert first[0] == key  # the oldest is now the newest: its place moved with it
    walk_both_ways(listed_app, analyst, {"q": "20261120"}, lambda t, code: True)


def test_tickets_of_one_second_get_distinct_places_when_slots_collide(app, monkeypatch):
    """Few slots per second: first choices collide, and each ticket moves on to a free slot of its second."""
    monkeypatch.setattr(search, "_SLOTS", 64)
    push_tickets(app, "SZ01", 82, 1)  # five receipt seconds: about 16 tickets each
    with app.app_context(), get_db().write() as session:
        search.catch_up(session)
        places = dict(session.execute(select(search_table.c.sync_key, search_table.c.id)).all())
        received = dict(session.execute(select(TicketRow.sync_key, TicketRow.received_at)).all())
    assert len(set(places.values())) == len(places) == 82
    assert all(
        search.second_of_place(place) == search.second_of(received[k]) and place % (1 << 20) < 64
        for k, place in places.items()
    )


def test_the_upgrade_gives_every_stored_ticket_its_place_and_leaves_the_index_current(
    listed_app, analyst, monkeypatch
):
    """From 0020 (rows numbered in the order written) the upgrade writes every row again at its place."""
    from alembic import command

    from server.storage.db import alembic_config

    monkeypatch.setattr(queries, "SEARCH_CAP", 1)
    url = "/dashboard/tickets?q=20261120"
    before = walk(analyst, url, "next")
    with listed_app.app_context():
        db = get_db()
        db.dispose()
        command.downgrade(alembic_config(db.url), "0020_staffnames")
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(search_table)) == 0
        db.upgrade()
        with db.read() as session:
            assert search.lagging(session) == []  # nothing left to catch up: every row written
            places = dict(session.execute(select(search_table.c.sync_key, search_table.c.id)).all())
            received = dict(session.execute(select(TicketRow.sync_key, TicketRow.received_at)).all())
        db.dispose()
    assert places.keys() == received.keys()
    assert all(search.second_of_place(places[k]) == search.second_of(at) for k, at in received.items())
    assert walk(analyst, url, "next") == before
    assert [k for p in before[0] for k in p] == stored_order(listed_app, lambda t, code: True)
    walk_both_ways(listed_app, analyst, {"q": "张先"}, lambda t, code: t.customer_name.startswith("张先"))


def test_the_upgrade_to_six_grams_writes_every_stored_ticket_s_terms_again(listed_app, analyst):
    """Rows written before 0024 hold trigrams only: a search of a ticket number would find nothing; the
    upgrade writes every row again with its six-grams, at its place, and leaves the index current."""
    from alembic import command

    from server.storage.db import alembic_config

    searched(analyst, "火箭")  # the index caught up
    with listed_app.app_context():
        db = get_db()
        db.dispose()
        command.downgrade(alembic_config(db.url), "0023_figdekads")
        with db.write() as session:
            s = search_table.c
            for key, terms in session.execute(select(s.sync_key, s.terms)).all():
                older = " ".join(term for term in terms.split() if len(term) < search.LONG)
                session.execute(search_table.update().where(s.sync_key == key).values(terms=older))
            places = dict(session.execute(select(s.sync_key, s.id)).all())
        assert searched(analyst, "GZ01-20261120-0042")[0] == set()
        db.dispose()
        db.upgrade()
        with db.read() as session:
            assert search.lagging(session) == []
            assert dict(session.execute(select(search_table.c.sync_key, search_table.c.id)).all()) == places
        db.dispose()
    assert searched(analyst, "GZ01-20261120-0042")[0] == {"GZ01-20261120-0042"}
    sz01 = numbers(listed_app, lambda t: t.ticket_id.startswith("SZ01"))
    assert searched(analyst, "SZ01-2026112")[0] == sz01


def _rows_as_stored(app: Flask) -> list[tuple[str, datetime]]:
    """PostgreSQL: (branch code, receipt time) of each ``ticket_search`` row, in the order of its pages."""
    with app.app_context(), get_db().read() as session:
        stored = sql(
            "SELECT b.code, t.received_at FROM ticket_search s JOIN tickets t ON t.sync_key = s.sync_key "
            "JOIN branches b ON b.id = t.branch_id ORDER BY s.ctid"
        )
        return [(code, at) for code, at in session.execute(stored)]


def _in_branch_receipt_order(rows: list[tuple[str, datetime]]) -> bool:
    runs = [code for n, (code, _) in enumerate(rows) if n == 0 or rows[n - 1][0] != code]
    return len(runs) == len(set(runs)) and all(
        a[1] <= b[1] for a, b in zip(rows, rows[1:], strict=False) if a[0] == b[0]
    )


def _scatter(app: Flask) -> None:
    """Write every search row again in the order of the sync keys, as migrations 0021 and 0024 did."""
    with app.app_context(), get_db().write() as session:
        session.execute(sql("CREATE TEMPORARY TABLE held ON COMMIT DROP AS SELECT * FROM ticket_search"))
        session.execute(sql("TRUNCATE ticket_search"))
        session.execute(sql("INSERT INTO ticket_search SELECT * FROM held ORDER BY sync_key"))
    assert not _in_branch_receipt_order(_rows_as_stored(app))


def test_postgresql_keeps_the_search_rows_of_a_branch_together_in_receipt_order(listed_app, analyst):
    """A search reads its candidates from the table's pages: rows written in the order of the sync keys
    scatter one branch's tickets over all of them. The upgrade to 0026 writes them again in each branch's
    receipt order, as a fill now does, and every search finds the same."""
    from alembic import command

    from server.storage.db import alembic_config

    if listed_app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite keeps the rows in the order of their places (the table's rowid)")
    asked = ("SZ01-2026112", "张先", "GZ01-20261120-0042", "宽带")
    found = {q: searched(analyst, q)[0] for q in asked}
    with listed_app.app_context():
        db = get_db()
        db.dispose()
        command.downgrade(alembic_config(db.url), "0025_listcover")
        _scatter(listed_app)
        db.dispose()
        db.upgrade()
    stored = _rows_as_stored(listed_app)
    assert len(stored) == 159 and _in_branch_receipt_order(stored)
    assert {q: searched(analyst, q)[0] for q in asked} == found
    _scatter(listed_app)
    with listed_app.app_context(), get_db().write() as session:
        assert search.fill_search_rows(session.connection()) == 159
    assert _in_branch_receipt_order(_rows_as_stored(listed_app))
    assert {q: searched(analyst, q)[0] for q in asked} == found


def test_a_candidate_moved_after_the_candidates_were_read_is_left_out_not_an_error(listed_app, analyst):
    """PostgreSQL reads a broad search's places first and a batch's keys when the walk comes to it; a
    catch-up committing in between may have moved a ticket (its receipt time corrected)."""
    if listed_app.config["DATABASE_URL"].startswith("sqlite"):
        pytest.skip("SQLite reads a batch's places and keys in one statement")
    searched(analyst, "火箭")  # the index caught up
    terms = query_terms("SZ01-2026112")
    with listed_app.app_context(), get_db().read() as session:
        found = search.candidates(session, terms, 1)
        assert len(found.placed) == 82
        moved = found.placed[0]
        with get_db().write() as other:
            free = other.scalar(select(func.max(search_table.c.id))) + 1
            other.execute(search_table.update().where(search_table.c.id == moved).values(id=free))
        walked = [
            place for batch in search.in_place_order(session, found, terms, True, None) for place, _ in batch
        ]
    assert walked == found.placed[1:]
