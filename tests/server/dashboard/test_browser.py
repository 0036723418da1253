"""End to end in Chromium (Playwright): sign in, filter, open a ticket, escalate it, download a workbook.

Runs the real app in a werkzeug server thread on a copy of the demo database,
with Debian's Chromium at 1366×768. Skipped when /usr/bin/chromium is absent,
unless REQUIRE_CHROMIUM=1 (CI), where that is a failure. With
UPDATE_SCREENSHOTS=1 the overview and ticket screenshots are written to docs/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.browsing import ARGS, CHROMIUM, open_page, require_chromium, served
from tests.server.dashboard.conftest import PASSWORD, demo_sqlite_app

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.fixture
def live_url(demo_database: Path, tmp_path: Path) -> Iterator[str]:
    require_chromium()
    copy = tmp_path / "live.db"
    shutil.copyfile(demo_database, copy)
    with served(demo_sqlite_app(copy)) as url:
        yield url


def test_sign_in_filter_escalate_and_download_in_chromium(live_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    shots = DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems, accept_downloads=True)

        page.goto(f"{live_url}/dashboard/")
        expect(page.get_by_role("heading", name="登录")).to_be_visible()
        page.get_by_label("用户名").fill("analyst")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page.locator(".tile").first).to_contain_text("受理量")
        expect(page.locator("svg.chart").first).to_be_visible()
        page.screenshot(path=str(shots / "dashboard-overview.png"))

        page.get_by_role("link", name="投诉单", exact=True).click()
        filters = page.locator("#ticket-filters")
        filters.get_by_label("SZ01").check()
        filters.get_by_label("蓝", exact=True).check()
        filters.get_by_role("button", name="查询").click()
        rows = page.locator("table.tickets tbody tr")
        expect(rows.first).to_have_class("level-blue")
        assert rows.count() > 0
        assert set(page.locator("table.tickets tbody tr td:nth-child(2)").all_inner_texts()) == {"SZ01"}
        assert all(c == "level-blue" for c in rows.evaluate_all("rs => rs.map(r => r.className)"))

        first = rows.first.locator("a")
        number = first.inner_text()
        first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text(number)
        page.get_by_role("button", name="升级", exact=True).click()  # the browser asks for the reason first
        expect(page.get_by_role("heading", level=1)).to_contain_text("蓝")
        page.get_by_label("升级原因").fill("客户在微博发帖，总部要求加急处理")
        page.get_by_label("通知部门负责人").fill("网络部王经理")
        page.get_by_role("button", name="升级", exact=True).click()
        expect(page.locator(".flash-success")).to_contain_text("已升级：蓝 → 黄")
        expect(page.locator(".ticket-head .badge")).to_have_text("黄")
        expect(page.locator("table.history")).to_contain_text("analyst（总部）")
        page.screenshot(path=str(shots / "dashboard-ticket.png"))

        page.get_by_role("link", name="下载", exact=True).click()
        page.get_by_label("GZ01").check()
        page.locator("#download-form input[name=from]").fill("2026-10-01")
        with page.expect_download() as info:
            page.get_by_role("button", name="下载", exact=True).click()
        saved = tmp_path / info.value.suggested_filename
        info.value.save_as(saved)
        page.context.close()
        browser.close()

    book = load_workbook(saved, read_only=True)
    titles = book.sheetnames
    rows_in_book = list(book["全部投诉"].iter_rows(values_only=True))
    book.close()
    assert titles[:2] == ["KPI", "月度分析"]
    assert len(rows_in_book) > 1 and {r[0] for r in rows_in_book[1:]} == {"GZ01"}
    assert not problems, problems
    for name in ("dashboard-overview.png", "dashboard-ticket.png"):
        assert (shots / name).stat().st_size > 20_000
