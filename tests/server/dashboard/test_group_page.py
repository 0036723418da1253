"""The group page (SQLite and PostgreSQL): one decision on the group reaches every member through the
one door, and the branch's next pull carries it."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from server.auth import HEAD_OFFICE
from server.storage.db import get_db
from server.storage.models import GroupRow
from tests.server.api.conftest import add_branch
from tests.server.api.test_sync_api import key, new_fields, sync
from tests.server.dashboard.conftest import add_user, csrf_of, sign_in

CLOSED = {
    "acknowledged_at": "2026-11-16T02:00:00+00:00",
    "routed_at": "2026-11-16T02:10:00+00:00",
    "plan_at": "2026-11-17T02:00:00+00:00",
    "resolved_at": "2026-11-18T02:00:00+00:00",
    "feedback_at": "2026-11-18T06:00:00+00:00",
    "cause": "分光器老化",
    "solution": "更换分光器",
    "safeguards": "每月巡检",
    "closed_at": "2026-11-19T02:00:00+00:00",  # Thursday: the revisit window opened on Tuesday the 24th
}
EXECUTING = {k: CLOSED[k] for k in ("acknowledged_at", "routed_at")} | {
    "plan_at": "2026-11-18T02:00:00+00:00"
}


def members(app: Flask) -> tuple[str, list[str]]:
    """Three customers of 翠湖小区, typed three ways, received on Monday 16 November: a group incident."""
    token = add_branch(app, "SZ01")
    keys = [key() for _ in range(3)]
    places = ("翠湖小区", "翠湖小区3栋", "翠湖小区 ５ 栋 2 单元")
    extra = (CLOSED, CLOSED, EXECUTING)
    items = [
        {
            "sync_key": k,
            "fields": new_fields(
                f"SZ01-20261116-000{n}", place=place, received_at=f"2026-11-16T01:0{n}:00+00:00", **more
            ),
        }
        for n, (k, place, more) in enumerate(zip(keys, places, extra, strict=True), 1)
    ]
    out = sync(app.test_client(), token, {"tickets": items})
    assert not out["pushed"]["rejected"]["tickets"], out["pushed"]["rejected"]
    return token, keys


def post(client, sync_key: str, action: str, **form: str) -> Any:
    page = client.get(f"/dashboard/tickets/{sync_key}/group")
    assert page.status_code == 200, page.text
    return client.post(
        f"/dashboard/tickets/{sync_key}/group/{action}", data={"csrf_token": csrf_of(page.text), **form}
    )


def pulled(app: Flask, token: str) -> dict[str, Any]:
    return sync(app.test_client(), token, {}, status=200)["pulled"]


def test_a_group_is_decided_once_on_its_page_and_every_member_takes_it(app):
    token, keys = members(app)
    first = pulled(app, token)
    by_key = {t["sync_key"]: t for t in first["tickets"]}
    assert {by_key[k]["group_id"] for k in keys} == {"SZ01-20261116-0001"}  # 3栋 and ５ 栋 2 单元: one place
    assert "NO_PROGRESS" in by_key[keys[2]]["flags"]
    with app.app_context(), get_db().read() as session:
        record = session.scalar(select(GroupRow))
        assert record is not None and record.group_id == "SZ01-20261116-0001"

    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    sign_in(client, "analyst")
    ticket_page = client.get(f"/dashboard/tickets/{keys[1]}").text
    assert f'href="/dashboard/tickets/{keys[1]}/group"' in ticket_page
    page = client.get(f"/dashboard/tickets/{keys[1]}/group").text
    assert "138****0001" in page and "13800130001" not in page  # masked for head office
    assert '<strong id="representative">SZ01-20261116-0001</strong>' in page

    assert post(client, keys[1], "representative", member=keys[2]).status_code == 302
    assert post(client, keys[1], "plan", plan="更换翠湖小区光交箱分光器，11月27日前完成").status_code == 302
    assert post(client, keys[0], "compensation", compensation="每户减免当月宽带费100元").status_code == 302
    assert (
        post(client, keys[2], "progress", progress="施工队已进场，预计周五完成", channel="短信").status_code
        == 302
    )
    assert (
        post(client, keys[0], "task", title="更换分光器", owner="网络部李工", due="2026-11-27").status_code
        == 302
    )
    assert post(client, keys[0], "revisit", member=keys[0], satisfaction="satisfied").status_code == 302
    assert post(client, keys[0], "revisit", member=keys[1], satisfaction="dissatisfied").status_code == 302

    page = client.get(f"/dashboard/tickets/{keys[0]}/group").text
    assert '<strong id="representative">SZ01-20261116-0003</strong>' in page
    assert '<strong id="group-rate">50%</strong>' in page and "1/2" in page

    after = pulled(app, token)  # what the branch's next Sync brings into its workbook
    tickets = {t["sync_key"]: t for t in after["tickets"]}
    assert {tickets[k]["plan"] for k in keys} == {"更换翠湖小区光交箱分光器，11月27日前完成"}
    assert {tickets[k]["compensation"] for k in keys} == {"每户减免当月宽带费100元"}
    assert tickets[keys[2]]["plan_at"] == "2026-11-18T02:00:00+00:00"  # a plan already told keeps its time
    assert "NO_PROGRESS" not in tickets[keys[2]]["flags"]
    assert tickets[keys[0]]["satisfaction"] == "satisfied"
    assert (
        tickets[keys[1]]["level"] == "red" and tickets[keys[1]]["reopened_at"]
    )  # yellow group, dissatisfied: red
    progress = [e for e in after["log"] if e["kind"] == "progress"]
    assert sorted(e["ticket_key"] for e in progress) == sorted(keys)
    assert {(e["text"], e["channel"], e["author"]) for e in progress} == {
        ("施工队已进场，预计周五完成", "短信", "analyst")
    }
    tasks = [(t["ticket_key"], t["task_no"], t["owner"], t["due"]) for t in after["tasks"]]
    assert sorted(tasks) == sorted((k, 1, "网络部李工", "2026-11-27") for k in keys)


def test_a_decision_no_member_can_take_changes_nothing(app):
    token, keys = members(app)
    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    sign_in(client, "analyst")
    # member 3 is not closed: its revisit is refused, and nothing is written
    refused = post(client, keys[0], "revisit", member=keys[2], satisfaction="satisfied")
    assert refused.status_code == 422 and "闭环时间" in refused.text
    empty = post(client, keys[0], "compensation", compensation="  ")
    assert empty.status_code == 422 and "请填写补偿决定" in empty.text
    tickets = {t["sync_key"]: t for t in pulled(app, token)["tickets"]}
    assert {tickets[k]["compensation"] for k in keys} == {""}
    assert tickets[keys[2]]["revisited_at"] is None


def test_a_ticket_outside_any_group_has_no_group_page(app):
    token = add_branch(app, "SZ01")
    k = key()
    sync(app.test_client(), token, {"tickets": [{"sync_key": k, "fields": new_fields()}]})
    add_user(app, "analyst", HEAD_OFFICE)
    client = app.test_client()
    sign_in(client, "analyst")
    assert "/group" not in client.get(f"/dashboard/tickets/{k}").text
    assert client.get(f"/dashboard/tickets/{k}/group").status_code == 404
