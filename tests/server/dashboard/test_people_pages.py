"""The people pages: per-staff KPIs for head office, my tickets for staff; numbers masked but for admin."""

from __future__ import annotations

import html

from flask import Flask
from sqlalchemy import select

from server.auth import hash_password
from server.storage.db import get_db
from server.storage.models import BranchRow, UserRow
from tests.phones import unmasked
from tests.server.api.conftest import NOW
from tests.server.api.test_sync_api import create
from tests.server.dashboard.conftest import PASSWORD, branch_token, sign_in

INVESTIGATOR = "李工 18612345678"
COORDINATOR = "王芳 13912345678"
NUMBERS = ["13800138000", "13912345678", "18612345678"]


def add_staff(app: Flask, username: str, role: str, staff_name: str = "", department: str = "") -> None:
    with app.app_context(), get_db().write() as session:
        branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
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


def seeded(demo_app: Flask) -> str:
    """A routed ticket whose contact, investigator and coordinator hold phone numbers."""
    row = create(
        demo_app.test_client(),
        branch_token(demo_app, "SZ01"),
        ticket_id="SZ01-20261125-9001",
        contact="138-0013-8000",
        acknowledged_at="2026-11-25T01:30:00+00:00",
        routed_at="2026-11-25T01:40:00+00:00",
        department="网络部",
        investigator=INVESTIGATOR,
        coordinator=COORDINATOR,
    )
    return row["sync_key"]


def shown(page: str) -> list[str]:
    return unmasked(html.unescape(page))


def test_the_staff_page_lists_coordinators_and_investigators_with_their_figures(demo_app, analyst):
    page = analyst.get("/dashboard/staff", query_string={"from": "2026-10-01", "to": "2026-11-25"}).text
    assert "投诉管理员" in page and "调查人" in page and "时限达标率" in page
    assert "王芳" in page and "李娜" in page and "网络部-调查员1" in page
    only_gz = analyst.get("/dashboard/staff", query_string={"from": "2026-10-01", "branch": "GZ01"}).text
    assert "<td>GZ01</td>" in only_gz and "<td>SZ01</td>" not in only_gz


def test_the_staff_page_masks_numbers_in_names_for_head_office_not_for_admin(demo_app, analyst):
    seeded(demo_app)
    page = analyst.get("/dashboard/staff").text
    assert shown(page) == [] and "李工 186****5678" in page and "王芳 139****5678" in page
    admin = demo_app.test_client()
    sign_in(admin, "root")
    assert shown(admin.get("/dashboard/staff").text) == [
        "13912345678",
        "18612345678",
    ]  # so the check can fail


def test_my_tickets_and_the_feedback_page_mask_every_number_for_staff(demo_app):
    key = seeded(demo_app)
    add_staff(demo_app, "li", "investigator", staff_name=INVESTIGATOR)
    li = demo_app.test_client()
    sign_in(li, "li")

    listed = li.get("/dashboard/mine").text
    detail = li.get(f"/dashboard/mine/{key}").text

    assert "SZ01-20261125-9001" in listed and "138-****-8000" in listed
    assert shown(listed) == [] and shown(detail) == []
    assert "李工 186****5678" in detail


def test_head_office_has_no_my_tickets_and_staff_have_no_head_office_pages(demo_app, analyst):
    add_staff(demo_app, "head", "dept_head", department="网络部")
    assert "调查人和部门负责人" in analyst.get("/dashboard/mine").text
    head = demo_app.test_client()
    sign_in(head, "head")
    for path in ("/dashboard/", "/dashboard/staff", "/dashboard/appeals", "/dashboard/downloads"):
        assert head.get(path).headers["Location"].endswith("/dashboard/mine"), path
    listed = head.get("/dashboard/mine").text
    assert "网络部" in listed and "市场部" not in listed.split("<tbody>")[1]
