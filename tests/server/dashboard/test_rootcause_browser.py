"""In Chromium: head office traces a root cause to the fishbone, tracks its measure, sees the counts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from server.storage.db import get_db
from server.storage.models import BranchRow, HistoryRow, TicketRow
from tests.browsing import ARGS, CHROMIUM, open_page, sign_in_at
from tests.server.dashboard.conftest import PASSWORD, demo_sqlite_app
from tests.server.dashboard.test_browser import live_url  # noqa: F401 (fixture)

NOVEMBER = datetime(2026, 11, 1, tzinfo=UTC)


def _november_ticket(database: Path) -> tuple[str, str]:
    """A live SZ01 ticket received this month (the overview's default period), not yet traced."""
    app = demo_sqlite_app(database)
    with app.app_context(), get_db().read() as session:
        key, number = session.execute(
            select(TicketRow.sync_key, TicketRow.ticket_id)
            .join(BranchRow)
            .where(
                BranchRow.code == "SZ01",
                TicketRow.received_at >= NOVEMBER,
                TicketRow.cancelled_at.is_(None),
                TicketRow.fishbone.is_(None),
            )
            .order_by(TicketRow.received_at)
            .limit(1)
        ).one()
    with app.app_context():
        get_db().dispose()
    return key, number


def _stored(database: Path, key: str) -> tuple[TicketRow, list[str]]:
    app = demo_sqlite_app(database)
    with app.app_context(), get_db().read() as session:
        row = session.get_one(TicketRow, key)
        session.expunge(row)
        fields = list(
            session.scalars(
                select(HistoryRow.field).where(HistoryRow.entity_key == key, HistoryRow.by == "analyst")
            )
        )
    with app.app_context():
        get_db().dispose()
    return row, fields


def test_head_office_sets_the_fishbone_category_and_tracks_the_measure_in_chromium(
    live_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    database = tmp_path / "live.db"  # the live server's copy (the `live_url` fixture)
    key, number = _november_ticket(database)
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems)
        sign_in_at(page, f"{live_url}/dashboard/", "analyst", PASSWORD)
        fishbone = page.locator("#fishbone [data-figure=fishbone_network]")
        expect(page.locator("#fishbone h2")).to_have_text("根因类别（鱼骨图）")
        network_before = int(fishbone.inner_text())
        overdue_before = int(page.locator("#measures [data-figure=measures_overdue]").inner_text())

        page.goto(f"{live_url}/dashboard/tickets/{key}")
        expect(page.get_by_role("heading", level=1)).to_contain_text(number)
        card = page.locator("#rootcause")
        card.locator("select[name=fishbone]").select_option(label="网络")
        card.get_by_label("根本原因").fill("老旧光交箱过载")
        card.get_by_label("改进措施").fill("小区光交箱扩容并纳入季度巡检")
        card.get_by_label("措施责任人").fill("网络部王工")
        card.get_by_label("措施完成期限").fill("2026-11-20")  # before "now", 25 November
        card.locator("select[name=measure_status]").select_option(label="进行中")
        card.get_by_role("button", name="保存").click()
        expect(page.locator(".flash-success")).to_contain_text("已保存根本原因与改进措施")
        expect(page.locator(".ticket-head")).to_contain_text("改进措施超时")  # the overdue measure is flagged
        expect(card.locator("select[name=fishbone]")).to_have_value("network")

        card.get_by_label("措施完成时间").fill("2026-11-24T16:00")
        card.locator("select[name=measure_status]").select_option(label="已完成")
        card.get_by_role("button", name="保存").click()
        expect(page.locator(".flash-success")).to_contain_text("已保存根本原因与改进措施")
        expect(card.locator("[data-effect]")).to_contain_text("改进成效：观察期")
        expect(page.locator(".ticket-head")).not_to_contain_text("改进措施超时")

        page.goto(f"{live_url}/dashboard/")
        expect(fishbone).to_have_text(str(network_before + 1))
        expect(page.locator("#measures [data-figure=measures_overdue]")).to_have_text(str(overdue_before))
        page.context.close()
        browser.close()

    row, fields = _stored(database, key)
    assert (row.fishbone, row.measure_status, row.effect) == ("network", "done", "watching")
    assert row.measure_owner == "网络部王工" and row.improvement_done
    assert row.measure_done_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 16:00 in Shanghai
    assert {"fishbone", "measure_status", "measure_done_at"} <= set(fields)
    assert not problems, problems
