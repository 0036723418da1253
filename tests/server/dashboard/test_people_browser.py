"""In Chromium (Playwright): an investigator's tickets red first and their feedback; the staff page.

Runs the real app in a werkzeug server thread on a copy of the demo database
with an investigator of SZ01 added, at 1366×768. Skipped when /usr/bin/chromium
is absent, unless REQUIRE_CHROMIUM=1 (CI), where that is a failure.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from server import clock
from server.auth import HEAD_OFFICE, hash_password
from server.services.changes import Actor
from server.services.tickets import change_on, escalate_ticket
from server.storage.db import get_db
from server.storage.models import BranchRow, TicketRow, UserRow
from server.storage.people import DONE
from tests.browsing import ARGS, CHROMIUM, open_page, require_chromium, served, sign_in_at
from tests.server.api.conftest import NOW
from tests.server.dashboard.conftest import PASSWORD, demo_sqlite_app

INVESTIGATOR = "网络部-调查员1"
PHONE = re.compile(r"1[3-9]\d{9}")


def prepare(app) -> str:  # noqa: ANN001
    """Add the investigator "li" of SZ01 and raise the latest of their open tickets to red; its number."""
    with app.app_context():
        with get_db().write() as session:
            branch = session.scalar(select(BranchRow).where(BranchRow.code == "SZ01"))
            assert branch is not None
            session.add(
                UserRow(
                    username="li",
                    password_hash=hash_password(PASSWORD),
                    role="investigator",
                    created_at=NOW,
                    branch_id=branch.id,
                    staff_name=INVESTIGATOR,
                )
            )
            last = session.execute(
                select(TicketRow.sync_key, TicketRow.ticket_id)
                .where(TicketRow.investigator == INVESTIGATOR, TicketRow.status.not_in(DONE))
                .where(TicketRow.branch_id == branch.id)
                .order_by(TicketRow.ticket_id.desc())
            ).first()
            assert last is not None, "the demo data has open tickets of this investigator"
        for reason in ("客户再次投诉", "客户在微博发帖"):
            with get_db().write() as session:
                change = change_on(
                    session, last.sync_key, None, Actor("hq", HEAD_OFFICE, "dashboard"), clock.now()
                )
                escalate_ticket(change, last.sync_key, reason, "")
    return last.ticket_id


@pytest.fixture
def live(demo_database: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    require_chromium()
    copy = tmp_path / "people.db"
    shutil.copyfile(demo_database, copy)
    app = demo_sqlite_app(copy)
    red = prepare(app)
    with served(app) as url:
        yield url, red


def test_an_investigator_sees_their_tickets_red_first_and_gives_department_feedback(live) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, red = live
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems)
        sign_in_at(page, f"{url}/dashboard/", "li", PASSWORD)
        expect(page.get_by_role("heading", level=1)).to_contain_text("我的投诉单 · SZ01")
        assert page.locator("nav.mainnav a").all_inner_texts() == ["我的投诉单"]  # nothing of head office
        rows = page.locator("table.mine tbody tr")
        expect(rows.first).to_have_class("level-red")
        expect(rows.first.locator("td").first).to_have_text(red)
        assert rows.count() >= 2
        investigators = set(page.locator("table.mine tbody tr td:nth-child(7)").all_inner_texts())
        assert investigators == {INVESTIGATOR}
        assert not PHONE.search(page.locator("table.mine").inner_text())  # contacts masked
        assert re.search(r"1\d\d\*{4}\d{4}", page.locator("table.mine").inner_text())

        rows.first.locator("a").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(red)
        form = page.locator("#dept-feedback")
        form.get_by_label("原因").fill("光交箱老化，端口故障")
        form.get_by_label("反馈说明（写入日志）").fill("已更换分光器，待观察三天")
        form.get_by_role("button", name="提交部门反馈").click()
        expect(page.locator(".flash-success")).to_contain_text("部门反馈已保存")
        fields = page.locator("dl.fields")
        expect(fields).to_contain_text("光交箱老化，端口故障")
        expect(fields.locator("div", has_text="部门反馈时间")).to_contain_text("2026-11-25 10:00")
        assert not PHONE.search(page.locator("main").inner_text())

        page.goto(f"{url}/dashboard/staff")
        expect(page.get_by_role("heading", level=1)).to_contain_text("我的投诉单")  # not head office's page
        browser.close()
    assert not problems, problems


def test_head_office_filters_the_staff_page_by_period_and_branch(live) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, _ = live
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems)
        sign_in_at(page, f"{url}/dashboard/", "analyst", PASSWORD)
        page.get_by_role("link", name="人员考核", exact=True).click()
        filters = page.locator("#staff-filters")
        filters.locator("input[name=from]").fill("2026-10-01")
        filters.get_by_label("GZ01").check()
        filters.get_by_role("button", name="查询").click()
        expect(page.locator(".hint")).to_contain_text("2026-10-01 – 2026-11-25 · GZ01")
        coordinators = page.locator("table.staff[data-role=coordinator] tbody tr")
        assert coordinators.locator("th").all_inner_texts() == ["李娜", "王芳"]  # by name
        branches = set(page.locator("table.staff tbody tr td:first-child").all_inner_texts())
        assert branches == {"GZ01"}
        investigators = page.locator("table.staff[data-role=investigator] tbody tr")
        assert investigators.count() >= 3
        first = investigators.first
        expect(first.locator("td[data-figure=timeliness]")).to_have_text(re.compile(r"^(\d+\.\d%|—)$"))
        browser.close()
    assert not problems, problems
