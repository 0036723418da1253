"""The ticket list's filters and search, the ticket page, phone masking and head-office escalation."""

from __future__ import annotations

import html
import re
import uuid
from datetime import date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from complaints.enums import Flag
from server.storage.db import get_db
from server.storage.figures import fill_figure_rows
from server.storage.models import BranchRow, HistoryRow, LogRow, TicketRow, figures_table
from tests.server.dashboard.conftest import branch_token, csrf_of, load_demo, sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")
_ROW_ID = re.compile(r'<a href="/dashboard/tickets/[0-9a-f]{32}">([^<]+)</a>')
_TOTAL = re.compile(r"共 (\d+) 条")
_NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


def all_tickets(app) -> list[dict]:
    with app.app_context(), get_db().read() as session:
        rows = session.execute(select(TicketRow, BranchRow.code).join(BranchRow)).all()
        return [
            {
                "id": t.ticket_id,
                "key": t.sync_key,
                "branch": code,
                "status": t.status,
                "cancelled": t.status == "cancelled" or t.cancelled_at is not None,
                "level": t.level,
                "category": t.category,
                "flags": {Flag(f) for f in (t.flags or "").split(",") if f},
                "day": t.received_at.astimezone(SHANGHAI).date(),
                "name": t.customer_name,
                "description": t.description,
                "contact": t.contact,
                "group": t.group_id.strip(),
                "basis": t.level_basis.split(","),
                "department": t.department.strip(),
            }
            for t, code in rows
        ]


def listed(client, params: dict[str, str]) -> tuple[set[str], int]:
    """Ticket numbers on every page of the list for ``params`` (following "next"), and the total shown."""
    found: set[str] = set()
    response = client.get("/dashboard/tickets", query_string=params)
    while True:
        assert response.status_code == 200, response.text
        total = int(_TOTAL.search(response.text)[1])
        ids = _ROW_ID.findall(response.text)
        assert not found & set(ids), "a ticket on two pages"
        found |= set(ids)
        following = _NEXT.search(response.text)
        if following is None:
            return found, total
        response = client.get(html.unescape(following[1]))


def live(t: dict) -> bool:
    return not t["cancelled"]


FILTERS = [
    ({}, live),
    ({"level": "red"}, lambda t: live(t) and t["level"] == "red"),
    ({"level": ["red", "yellow"]}, lambda t: live(t) and t["level"] in ("red", "yellow")),
    ({"branch": "GZ01"}, lambda t: live(t) and t["branch"] == "GZ01"),
    ({"branch": ["GZ01", "FS01"]}, lambda t: live(t) and t["branch"] in ("GZ01", "FS01")),
    ({"status": "closed"}, lambda t: live(t) and t["status"] == "closed"),
    ({"status": "cancelled"}, lambda t: t["cancelled"]),
    ({"status": "any"}, lambda t: True),
    ({"category": "network_fault"}, lambda t: live(t) and t["category"] == "network_fault"),
    ({"overdue": "1"}, lambda t: live(t) and any(f.is_overdue for f in t["flags"])),
    ({"unfinished": "1"}, lambda t: live(t) and t["status"] != "revisited"),
    ({"revisit_due": "1"}, lambda t: live(t) and {Flag.REVISIT_DUE, Flag.REVISIT_OVERDUE} & t["flags"]),
    ({"grouped": "1"}, lambda t: live(t) and t["group"] != ""),
    ({"repeat": "1"}, lambda t: live(t) and "REPEAT" in t["basis"]),
    ({"department": "网络部"}, lambda t: live(t) and t["department"] == "网络部"),
    ({"department": ""}, lambda t: live(t) and t["department"] == ""),
    (
        {"received_from": "2026-11-01", "received_to": "2026-11-10"},
        lambda t: live(t) and date(2026, 11, 1) <= t["day"] <= date(2026, 11, 10),
    ),
    ({"q": "宽带"}, lambda t: live(t) and ("宽带" in t["description"] or "宽带" in t["name"])),
    ({"q": "王"}, lambda t: live(t) and ("王" in t["name"] or "王" in t["description"])),
    (
        {"branch": "SZ01", "level": "blue", "overdue": "1", "category": "billing_dispute"},
        lambda t: (
            live(t)
            and t["branch"] == "SZ01"
            and t["level"] == "blue"
            and t["category"] == "billing_dispute"
            and any(f.is_overdue for f in t["flags"])
        ),
    ),
    ({"q": "%_"}, lambda t: False),
]


def mark_groups_and_repeats(app) -> None:
    """The demo has no group incident nor repeat complaint: mark a few tickets as the level rules would."""
    with app.app_context(), get_db().write() as session:
        keys = session.scalars(select(TicketRow.sync_key).order_by(TicketRow.sync_key).limit(6)).all()
        for n, key in enumerate(keys):
            ticket = session.get(TicketRow, key)
            if n < 3:
                ticket.group_id = " G-1 " if n else "G-1"
            else:
                ticket.level_basis = "GROUP,REPEAT" if n == 3 else "REPEAT"
    with app.app_context(), get_db().write() as session:  # written around the service: its figure rows too
        session.execute(delete(figures_table).where(figures_table.c.sync_key.in_(keys)))
        fill_figure_rows(session.connection(), None)


def test_filters_and_search_list_exactly_the_matching_tickets(app):
    load_demo(app)
    mark_groups_and_repeats(app)
    client = app.test_client()
    sign_in(client)
    tickets = all_tickets(app)
    for params, keep in FILTERS:
        expected = {t["id"] for t in tickets if keep(t)}
        shown, total = listed(client, params)
        assert shown == expected, params
        assert total == len(expected), params
    for params, keep in FILTERS[:-1]:  # none passes vacuously
        assert any(keep(t) for t in tickets), params


def test_search_finds_a_ticket_by_its_number(analyst, demo_app):
    ticket = all_tickets(demo_app)[7]
    shown, total = listed(analyst, {"q": ticket["id"].lower()})
    assert shown == {ticket["id"]} and total == 1


def test_rows_are_coloured_by_warning_level(analyst):
    html = analyst.get("/dashboard/tickets", query_string={"level": "red"}).text
    rows = re.findall(r'<tr class="level-(\w+)">', html)
    assert rows and set(rows) == {"red"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"level": "purple"}, "筛选条件“预警等级”的值无效：purple"),
        ({"received_from": "2026-13-01"}, "日期格式不正确：受理日期从"),
        ({"branch": "XX99"}, "未知分支机构：XX99"),
    ],
)
def test_a_bad_filter_is_named_in_the_message(analyst, params, message):
    response = analyst.get("/dashboard/tickets", query_string=params)
    assert response.status_code == 400
    assert message in response.text


def test_phone_numbers_are_masked_for_head_office_and_shown_to_admin(demo_app, analyst):
    ticket = all_tickets(demo_app)[0]
    phone = ticket["contact"]
    masked = f"{phone[:3]}****{phone[-4:]}"
    for page in (f"/dashboard/tickets/{ticket['key']}", f"/dashboard/tickets?q={ticket['id']}"):
        html = analyst.get(page).text
        assert masked in html and phone not in html  # nowhere: not in the fields, not in the history
    admin = demo_app.test_client()
    sign_in(admin, "root")
    assert phone in admin.get(f"/dashboard/tickets/{ticket['key']}").text


def test_a_phone_number_written_in_text_is_masked_for_head_office_too(demo_app, analyst):
    ticket = a_blue_ticket(demo_app)
    page = f"/dashboard/tickets/{ticket['key']}"
    token = csrf_of(analyst.get(page).text)
    note = "客户改用 139-1234-5678 联系"
    assert analyst.post(f"{page}/note", data={"csrf_token": token, "note": note}).status_code == 302
    html = analyst.get(page).text
    assert "客户改用 139-****-5678 联系" in html and "1234-5678" not in html
    admin = demo_app.test_client()
    sign_in(admin, "root")
    assert note in admin.get(page).text


def escalate(client, key: str, **data: str):
    token = csrf_of(client.get(f"/dashboard/tickets/{key}").text)
    return client.post(f"/dashboard/tickets/{key}/escalate", data={"csrf_token": token, **data})


def level_of(app, key: str) -> str:
    with app.app_context(), get_db().read() as session:
        return session.get(TicketRow, key).level


def a_blue_ticket(app) -> dict:
    return next(t for t in all_tickets(app) if t["level"] == "blue" and t["branch"] == "SZ01")


@pytest.mark.parametrize("reason", ["", "   "])
def test_escalation_without_a_reason_is_refused_with_a_clear_message(demo_app, analyst, reason):
    ticket = a_blue_ticket(demo_app)
    response = escalate(analyst, ticket["key"], reason=reason)
    assert response.status_code == 422
    assert "请填写升级原因" in response.text
    assert level_of(demo_app, ticket["key"]) == "blue"


def test_a_red_ticket_cannot_be_escalated_further(demo_app, analyst):
    red = next(t for t in all_tickets(demo_app) if t["level"] == "red")
    response = escalate(analyst, red["key"], reason="再升级")
    assert response.status_code == 422
    assert "已是红色预警" in response.text


def test_head_office_escalation_is_versioned_logged_and_pulled_by_the_branch(demo_app, analyst):
    ticket = a_blue_ticket(demo_app)
    token = branch_token(demo_app, "SZ01")
    api = demo_app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    cursor = api.post("/api/sync", json={"cursor": 0}, headers={**auth, "Idempotency-Key": "c0"}).json
    cursor = cursor["pulled"]["cursor"]

    response = escalate(analyst, ticket["key"], reason="客户在微博曝光", head="网络部王经理")
    assert response.status_code == 302
    page = analyst.get(response.headers["Location"]).text
    assert "已升级：蓝 → 黄" in page
    assert level_of(demo_app, ticket["key"]) == "yellow"

    pulled = api.post("/api/sync", json={"cursor": cursor}, headers={**auth, "Idempotency-Key": "c1"}).json
    mine = [t for t in pulled["pulled"]["tickets"] if t["sync_key"] == ticket["key"]]
    assert mine and mine[0]["level"] == "yellow" and mine[0]["escalated_to"] == "网络部王经理"
    assert any(
        e["ticket_key"] == ticket["key"] and e["kind"] == "escalation" for e in pulled["pulled"]["log"]
    )
    with demo_app.app_context(), get_db().read() as session:
        written = set(
            session.execute(
                select(HistoryRow.by, HistoryRow.role, HistoryRow.source).where(
                    HistoryRow.entity_key == ticket["key"], HistoryRow.field == "level"
                )
            )
        )
        log = session.scalars(select(LogRow).where(LogRow.ticket_key == ticket["key"])).all()
    assert written == {("analyst", "head_office", "dashboard")}
    assert [(e.author, e.role, e.channel) for e in log] == [("analyst", "head_office", "dashboard")]


def test_head_office_note_is_kept_in_the_log_and_pulled_by_the_branch_and_an_empty_one_is_refused(
    demo_app, analyst
):
    ticket = a_blue_ticket(demo_app)
    token = csrf_of(analyst.get(f"/dashboard/tickets/{ticket['key']}").text)
    empty = analyst.post(f"/dashboard/tickets/{ticket['key']}/note", data={"csrf_token": token, "note": "  "})
    assert empty.status_code == 422 and "请填写备注内容" in empty.text

    api = demo_app.test_client()
    auth = {"Authorization": f"Bearer {branch_token(demo_app, 'SZ01')}"}
    cursor = api.post("/api/sync", json={"cursor": 0}, headers={**auth, "Idempotency-Key": "n0"}).json
    cursor = cursor["pulled"]["cursor"]
    text = "总部：请于今日内回电客户并说明进展"
    added = analyst.post(f"/dashboard/tickets/{ticket['key']}/note", data={"csrf_token": token, "note": text})
    assert added.status_code == 302
    page = analyst.get(added.headers["Location"]).text
    assert "已添加备注" in page and text in page
    assert level_of(demo_app, ticket["key"]) == "blue"  # a note changes no field

    pulled = api.post("/api/sync", json={"cursor": cursor}, headers={**auth, "Idempotency-Key": "n1"}).json
    notes = [e for e in pulled["pulled"]["log"] if e["ticket_key"] == ticket["key"]]
    assert [(e["kind"], e["text"], e["author"], e["role"], e["channel"]) for e in notes] == [
        ("note", text, "analyst", "head_office", "dashboard")
    ]


def test_ticket_page_shows_history_tasks_log_and_open_conflicts(demo_app, analyst):
    ticket = a_blue_ticket(demo_app)
    assert escalate(analyst, ticket["key"], reason="总部关注").status_code == 302
    token = branch_token(demo_app, "SZ01")
    body = {
        "tickets": [
            {"sync_key": ticket["key"], "base_version": 1, "fields": {"level_reason": "分支机构的说法"}}
        ],
        "tasks": [
            {
                "sync_key": uuid.uuid4().hex,
                "ticket_key": ticket["key"],
                "fields": {"task_no": 1, "title": "上门更换光猫", "owner": "李工", "due": "2026-11-27"},
            }
        ],
        "log": [
            {
                "sync_key": uuid.uuid4().hex,
                "ticket_key": ticket["key"],
                "at": "2026-11-25T01:30:00+00:00",
                "kind": "progress",
                "text": "已电话告知客户维修进度",
                "author": "coordinator",
            }
        ],
    }
    pushed = demo_app.test_client().post(
        "/api/sync", json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "p1"}
    )
    assert pushed.json["pushed"]["tickets"][0]["conflicts"], pushed.json
    html = analyst.get(f"/dashboard/tickets/{ticket['key']}").text
    for text in ("上门更换光猫", "李工", "已电话告知客户维修进度", "进度通报", "分支机构的说法", "总部关注"):
        assert text in html, text
    conflicts = html.split("未解决冲突")[1].split("</section>")[0]
    assert "升级/降级原因" in conflicts and "分支机构的说法" in conflicts and "总部关注" in conflicts
    history = html.split("修改历史")[1]
    assert "analyst（总部）" in history and "总部看板" in history and "预警等级" in history
    assert "2026-11-25 10:00" in history  # times in the branch's zone


def test_an_unknown_ticket_is_a_404_page(analyst):
    response = analyst.get(f"/dashboard/tickets/{uuid.uuid4().hex}")
    assert response.status_code == 404 and "没有这张投诉单" in response.text
