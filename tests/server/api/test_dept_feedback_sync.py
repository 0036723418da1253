"""Department feedback entered on the web by the investigator reaches the branch with its next pull.

The investigator signs in to the dashboard with a personal account and records
the feedback of a ticket assigned to them; the change goes through the one
service (history author = the investigator), and the branch's next sync pulls
it. The conflict rules are those of any change: a branch edit of the same field
based on an older version becomes a conflict with both values.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from server.auth import hash_password
from server.storage.db import get_db
from server.storage.models import BranchRow, HistoryRow, UserRow
from tests.server.api.conftest import NOW, add_branch
from tests.server.api.test_sync_api import create, sync
from tests.server.dashboard.conftest import PASSWORD, csrf_of, sign_in

ROUTED = {
    "acknowledged_at": "2026-11-25T01:30:00+00:00",
    "routed_at": "2026-11-25T01:40:00+00:00",
    "department": "网络部",
    "investigator": "网络部-李强",
    "coordinator": "王芳",
}


def add_staff(
    app: Flask, username: str, role: str, code: str, staff_name: str = "", department: str = ""
) -> None:
    with app.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == code))
        assert branch is not None
        session.add(
            UserRow(
                username=username,
                password_hash=hash_password(PASSWORD),
                role=role,
                created_at=NOW,
                branch_id=branch.id,
                staff_name=staff_name,
                department=department,
            )
        )


def signed_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username)
    return client


def give_feedback(client: FlaskClient, sync_key: str, **form: str) -> Any:
    page = client.get(f"/dashboard/mine/{sync_key}")
    data = {"csrf_token": csrf_of(page.text), "at": "2026-11-25T09:50", **form}
    return client.post(f"/dashboard/mine/{sync_key}", data=data)


def test_feedback_entered_on_the_web_arrives_with_the_branchs_next_pull_authored_by_the_investigator(app):
    branch, token = app.test_client(), add_branch(app, "SZ01")
    row = create(branch, token, **ROUTED)
    cursor = sync(branch, token, {})["pulled"]["cursor"]
    add_staff(app, "li", "investigator", "SZ01", staff_name="网络部-李强")

    sent = give_feedback(signed_in(app, "li"), row["sync_key"], cause="光交箱老化", note="已更换分光器")

    assert sent.status_code == 302
    pulled = sync(branch, token, {"cursor": cursor})["pulled"]
    ticket = pulled["tickets"][0]
    assert ticket["dept_feedback_at"] == "2026-11-25T01:50:00+00:00"  # 09:50 in Shanghai
    assert ticket["cause"] == "光交箱老化" and ticket["version"] == row["version"] + 1
    assert [(e["kind"], e["text"], e["author"]) for e in pulled["log"]] == [("note", "已更换分光器", "li")]
    with app.app_context(), get_db().read() as session:
        authors = {
            (h.field, h.by, h.role, h.source)
            for h in session.scalars(select(HistoryRow).where(HistoryRow.entity_key == row["sync_key"]))
            if h.version == ticket["version"]
        }
    assert ("dept_feedback_at", "li", "investigator", "dashboard") in authors
    assert ("cause", "li", "investigator", "dashboard") in authors


def test_the_same_feedback_again_changes_nothing_and_a_note_alone_is_logged(app):
    branch, token = app.test_client(), add_branch(app, "SZ01")
    row = create(branch, token, **ROUTED)
    add_staff(app, "li", "investigator", "SZ01", staff_name="网络部-李强")
    li = signed_in(app, "li")
    give_feedback(li, row["sync_key"], cause="光交箱老化")
    cursor = sync(branch, token, {})["pulled"]["cursor"]

    again = give_feedback(li, row["sync_key"], cause="光交箱老化")
    assert "没有需要保存的修改" in li.get(again.headers["Location"]).text
    assert sync(branch, token, {"cursor": cursor})["pulled"]["tickets"] == []
    noted = give_feedback(li, row["sync_key"], cause="光交箱老化", note="周五复测")
    assert "部门反馈已保存" in li.get(noted.headers["Location"]).text
    pulled = sync(branch, token, {"cursor": cursor})["pulled"]
    assert [e["text"] for e in pulled["log"]] == ["周五复测"]


def test_a_branch_edit_of_the_same_field_on_an_older_version_is_a_conflict_with_both_values(app):
    branch, token = app.test_client(), add_branch(app, "SZ01")
    row = create(branch, token, **ROUTED)
    add_staff(app, "li", "investigator", "SZ01", staff_name="网络部-李强")
    give_feedback(signed_in(app, "li"), row["sync_key"], cause="光交箱老化")

    stale = {"sync_key": row["sync_key"], "base_version": row["version"], "fields": {"cause": "用户光猫故障"}}
    out = sync(branch, token, {"tickets": [stale]})

    conflict = out["pushed"]["tickets"][0]["conflicts"][0]
    assert (conflict["field"], conflict["branch_value"], conflict["server_value"]) == (
        "cause",
        "用户光猫故障",
        "光交箱老化",
    )
    assert out["pulled"]["tickets"][0]["cause"] == "光交箱老化"  # nothing lost until the coordinator decides


def test_a_future_feedback_time_is_refused_and_nothing_is_written(app):
    branch, token = app.test_client(), add_branch(app, "SZ01")
    row = create(branch, token, **ROUTED)
    add_staff(app, "li", "investigator", "SZ01", staff_name="网络部-李强")

    refused = give_feedback(signed_in(app, "li"), row["sync_key"], at="2026-12-25T09:00", cause="x")

    assert refused.status_code == 422 and "in the future" in refused.text
    pulled = sync(branch, token, {})["pulled"]
    assert pulled["tickets"][0]["version"] == row["version"] and pulled["tickets"][0]["cause"] == ""


def test_staff_reach_only_their_own_branchs_tickets_assigned_to_them_or_their_department(app):
    branch, token = app.test_client(), add_branch(app, "SZ01")
    other_token = add_branch(app, "GZ01")
    mine = create(branch, token, ticket_id="SZ01-20261125-0001", **ROUTED)
    colleague = create(
        branch, token, ticket_id="SZ01-20261125-0002", **{**ROUTED, "investigator": "网络部-赵敏"}
    )
    billing = create(
        branch,
        token,
        ticket_id="SZ01-20261125-0003",
        **{**ROUTED, "department": "市场部", "investigator": "x"},
    )
    elsewhere = create(app.test_client(), other_token, ticket_id="GZ01-20261125-0001", **ROUTED)
    add_staff(app, "li", "investigator", "SZ01", staff_name="网络部-李强")
    add_staff(app, "head", "dept_head", "SZ01", department="网络部")
    li, head = signed_in(app, "li"), signed_in(app, "head")

    assert li.get(f"/dashboard/mine/{mine['sync_key']}").status_code == 200
    for hidden in (colleague, billing, elsewhere):
        assert li.get(f"/dashboard/mine/{hidden['sync_key']}").status_code == 404
    forged = li.post(
        f"/dashboard/mine/{elsewhere['sync_key']}",
        data={"csrf_token": csrf_of(li.get("/dashboard/mine").text), "at": "2026-11-25T09:50"},
    )
    assert forged.status_code == 404
    listed = li.get("/dashboard/mine").text
    assert mine["ticket_id"] in listed
    assert all(t["ticket_id"] not in listed for t in (colleague, billing, elsewhere))
    by_head = head.get("/dashboard/mine").text
    assert mine["ticket_id"] in by_head and colleague["ticket_id"] in by_head
    assert billing["ticket_id"] not in by_head and elsewhere["ticket_id"] not in by_head
    # head-office pages and the API are not theirs
    assert li.get("/dashboard/tickets").headers["Location"].endswith("/dashboard/mine")
    assert li.get(f"/dashboard/tickets/{mine['sync_key']}").status_code == 302
    note = {"note": "x", "csrf_token": csrf_of(li.get("/dashboard/mine").text)}
    assert li.post(f"/dashboard/tickets/{mine['sync_key']}/note", data=note).status_code == 403
    assert li.post("/api/tokens", auth=("li", PASSWORD)).status_code == 403
