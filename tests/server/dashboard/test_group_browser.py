"""The group page in Chromium (Playwright): from a member ticket to its group, one decision for all members.

Three customers of 翠湖小区 (typed "翠湖小区", "翠湖小区3栋", "翠湖小区 ５ 栋 2 单元") form one group
incident; head office opens the group from a member's ticket page, changes the representative, sets
one plan and one compensation, tells every member of the progress, records the revisit of a member,
and every member's page shows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from server import create_app
from server.auth import HEAD_OFFICE
from server.storage.db import get_db
from tests.browsing import ARGS, CHROMIUM, open_page, require_chromium, served, sign_in_at
from tests.server.api.conftest import NOW
from tests.server.dashboard.conftest import PASSWORD, add_user
from tests.server.dashboard.test_group_page import members


@pytest.fixture
def group_site(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    require_chromium()
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "CLOCK": lambda: NOW}
    )
    with app.app_context():
        get_db().upgrade()
    _, keys = members(app)
    add_user(app, "analyst", HEAD_OFFICE)
    with served(app) as url:
        yield url, keys


def test_head_office_handles_a_group_as_one_from_a_member_ticket_in_chromium(group_site) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, keys = group_site
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems)
        sign_in_at(page, f"{url}/dashboard/tickets/{keys[1]}", "analyst", PASSWORD)
        expect(page.get_by_role("heading", level=1)).to_contain_text("SZ01-20261116-0002")
        page.locator("#group-link").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("群体事件 SZ01-20261116-0001")
        rows = page.locator("table.group-members tbody tr")
        expect(rows).to_have_count(3)
        expect(page.locator("table.group-members")).to_contain_text("138****0002")
        expect(page.locator("table.group-members")).not_to_contain_text("13800130002")
        expect(page.locator("#representative")).to_have_text("SZ01-20261116-0001")

        representative = page.locator("#group-representative")
        representative.get_by_label("成员").select_option(label="SZ01-20261116-0003 张先生")
        representative.get_by_role("button", name="设为客户代表").click()
        expect(page.locator(".flash-success")).to_contain_text("已更换客户代表")
        expect(page.locator("#representative")).to_have_text("SZ01-20261116-0003")

        page.locator("#group-plan").get_by_label("方案内容").fill("更换翠湖小区光交箱分光器，11月27日前完成")
        page.get_by_role("button", name="对全部成员沟通方案").click()
        expect(page.locator(".flash-success")).to_contain_text("方案已适用于全部成员")

        page.locator("#group-compensation").get_by_label("补偿决定").fill("每户减免当月宽带费100元")
        page.get_by_role("button", name="对全部成员适用").click()
        expect(page.locator(".flash-success")).to_contain_text("补偿决定已适用于全部成员")
        expect(rows.locator("td:nth-child(7)")).to_have_text(["每户减免当月宽带费100元"] * 3)

        progress = page.locator("#group-progress")
        progress.get_by_label("通报内容").fill("施工队已进场，预计周五完成")
        progress.get_by_label("渠道").fill("短信")
        progress.get_by_role("button", name="通报全部成员").click()
        expect(page.locator(".flash-success")).to_contain_text("进度已通报全部成员")

        revisit = page.locator("#group-revisit")
        revisit.get_by_label("成员").select_option(label="SZ01-20261116-0001 张先生")
        revisit.get_by_label("满意度").select_option(label="满意")
        revisit.get_by_role("button", name="记录回访").click()
        expect(page.locator(".flash-success")).to_contain_text("回访已记录")
        expect(page.locator("#group-rate")).to_have_text("100%")
        expect(rows.first.locator("td.satisfaction")).to_have_text("满意")

        page.locator("table.group-members tbody tr").nth(2).get_by_role("link").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("SZ01-20261116-0003")
        fields = page.locator("dl.fields")
        expect(fields).to_contain_text("更换翠湖小区光交箱分光器，11月27日前完成")
        expect(fields).to_contain_text("每户减免当月宽带费100元")
        expect(page.locator(".ticket-head")).not_to_contain_text("未通报进度")  # NO_PROGRESS cleared
        expect(page.get_by_role("cell", name="施工队已进场，预计周五完成")).to_be_visible()
        page.context.close()
        browser.close()
    assert problems == []
