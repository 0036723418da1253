"""The overview shows the figures of `server.services.analysis` (the consolidated workbook's); downloads."""

from __future__ import annotations

import re
from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import func, select

from complaints.periods import Period
from server.services.analysis import analyse
from server.storage.db import get_db
from server.storage.models import BranchRow, TicketRow
from tests.server.dashboard.conftest import csrf_of, sign_in

SHANGHAI = ZoneInfo("Asia/Shanghai")


def tiles(html: str) -> dict[str, str]:
    pairs = re.findall(r'<div class="tile-label">([^<]+)</div><div class="tile-value">([^<]+)</div>', html)
    return dict(pairs)


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def expected(app, branches, first: tuple[int, int, int], last_exclusive: tuple[int, int, int]):
    period = Period(date(*first), date(*last_exclusive))
    with app.app_context(), get_db().read() as session:
        return analyse(session, branches, period)


def test_overview_kpis_are_those_of_the_analysis_layer(demo_app, analyst):
    html = analyst.get("/dashboard/?from=2026-10-15&to=2026-11-20&branch=SZ01&branch=FS01").text
    want = expected(demo_app, ["SZ01", "FS01"], (2026, 10, 15), (2026, 11, 21)).kpis
    shown = tiles(html)
    k = want.overall
    assert k.received > 0 and k.resolution.total > 0
    assert shown["受理量"] == str(k.received)
    assert shown["解决率"] == pct(k.resolution.rate)
    assert shown["满意度"] == pct(k.satisfaction.rate)
    assert shown["闭环及时率"] == pct(k.closed_loop.rate)
    assert shown["溯源改进率"] == pct(k.improvement.rate)
    assert shown["红色预警"] == str(k.red) and shown["黄色预警"] == str(k.yellow)
    by_branch = html.split("分支机构指标")[1].split("</table>")[0]
    assert "SZ01" in by_branch and "FS01" in by_branch and "GZ01" not in by_branch
    sz = re.search(r"SZ01</th>(.*?)</tr>", by_branch, re.S)[1]
    cells = dict(re.findall(r'<td class="num" data-figure="(\w+)">(?:<a href="[^"]*">)?([^<]*)<', sz))
    own = want.by_branch["SZ01"]
    assert [cells[key] for key in ("received", "resolution", "satisfaction", "closed_loop")] == [
        str(own.received),
        pct(own.resolution.rate),
        pct(own.satisfaction.rate),
        pct(own.closed_loop.rate),
    ]


def test_overview_defaults_to_this_month_for_every_branch(demo_app, analyst):
    html = analyst.get("/dashboard/").text
    want = expected(demo_app, None, (2026, 11, 1), (2026, 11, 26)).kpis.overall
    assert "2026-11-01 – 2026-11-25" in html and "全部分支机构" in html
    assert tiles(html)["受理量"] == str(want.received)


def test_overview_counts_by_level_and_status_and_overdue_by_branch(demo_app, analyst):
    html = analyst.get("/dashboard/?from=2026-09-01&to=2026-11-25").text
    with demo_app.app_context(), get_db().read() as session:
        closed = session.scalar(select(func.count()).where(TicketRow.status == "closed"))
        unfinished_gz = session.scalar(
            select(func.count())
            .select_from(TicketRow)
            .join(BranchRow)
            .where(
                BranchRow.code == "GZ01",
                TicketRow.status.not_in(("revisited", "cancelled")),
                TicketRow.cancelled_at.is_(None),
            )
        )
    assert re.search(rf"已闭环</a></dt><dd class=\"num\">{closed}</dd>", html)
    work = html.split("未完结与超时：按分支机构")[1].split("</table>")[0]
    assert re.search(
        rf'GZ01</th><td class="num" data-figure="unfinished"><a href="[^"]+">{unfinished_gz}</a>', work
    )
    assert "<svg" in html and "类型分布" in html and "月度趋势" in html


def test_a_backwards_period_is_explained_and_the_default_shown(analyst):
    html = analyst.get("/dashboard/?from=2026-11-20&to=2026-11-01").text
    assert "期间开始日期不能晚于结束日期" in html
    assert "2026-11-01 – 2026-11-25" in html


def test_a_period_beyond_the_supported_years_is_explained_not_built(analyst):
    html = analyst.get("/dashboard/?from=2026-11-01&to=9999-12-31").text
    assert "期间须在 2000-01-01 至 2100-01-01 之间" in html


def download(client, **form: str) -> bytes:
    token = csrf_of(client.get("/dashboard/downloads").text)
    with client.post("/dashboard/downloads/consolidated", data={"csrf_token": token, **form}) as response:
        assert response.status_code == 200, response.text
        assert "attachment" in response.headers["Content-Disposition"]
        return response.data


def test_the_consolidated_workbook_has_the_overviews_kpis_and_the_chosen_branches(analyst):
    form = {"branch": "GZ01", "from": "2026-10-01", "to": "2026-11-25", "lang": "zh"}
    book = load_workbook(BytesIO(download(analyst, **form)), read_only=True)
    assert book.sheetnames[:3] == ["KPI", "月度分析", "全部投诉"]
    tickets = list(book["全部投诉"].iter_rows(values_only=True))
    kpi = list(book["KPI"].iter_rows(values_only=True))
    book.close()
    assert tickets[0][:2] == ("分支机构", "投诉编号")
    assert len(tickets) > 1 and {r[0] for r in tickets[1:]} == {"GZ01"}
    assert all("****" in r[5] for r in tickets[1:])  # phone numbers masked for head office
    header = next(r for r in kpi if r[1] == "受理量")
    overall = dict(zip(header, next(r for r in kpi if r[0] == "合计"), strict=True))
    shown = tiles(analyst.get("/dashboard/?branch=GZ01&from=2026-10-01&to=2026-11-25").text)
    assert shown["受理量"] == str(overall["受理量"])
    for label in ("解决率", "满意度", "闭环及时率"):
        assert shown[label] == pct(overall[label]), label


def test_download_without_csrf_token_is_refused(analyst):
    response = analyst.post(
        "/dashboard/downloads/consolidated", data={"from": "2026-10-01", "to": "2026-11-25"}
    )
    assert response.status_code == 400


def test_overview_figures_follow_a_change_at_once(demo_app, analyst):
    yellow_before = int(tiles(analyst.get("/dashboard/").text)["黄色预警"])
    with demo_app.app_context(), get_db().read() as session:
        key = session.scalar(
            select(TicketRow.sync_key).where(
                TicketRow.level == "blue", TicketRow.received_at >= datetime(2026, 11, 2, tzinfo=SHANGHAI)
            )
        )
    token = csrf_of(analyst.get(f"/dashboard/tickets/{key}").text)
    analyst.post(f"/dashboard/tickets/{key}/escalate", data={"csrf_token": token, "reason": "总部关注"})
    assert tiles(analyst.get("/dashboard/").text)["黄色预警"] == str(yellow_before + 1)


def test_a_download_for_an_unknown_branch_is_explained(analyst):
    token = csrf_of(analyst.get("/dashboard/downloads").text)
    response = analyst.post(
        "/dashboard/downloads/consolidated",
        data={"csrf_token": token, "branch": "XX99", "from": "2026-11-01", "to": "2026-11-25"},
        follow_redirects=True,
    )
    assert "未知分支机构：XX99" in response.text


def test_an_administrator_gets_phone_numbers_in_full(demo_app):
    admin = demo_app.test_client()
    sign_in(admin, "root")
    book = load_workbook(
        BytesIO(download(admin, branch="SZ01", **{"from": "2026-11-01", "to": "2026-11-25"}))
    )
    phones = [r[5] for r in book["全部投诉"].iter_rows(min_row=2, values_only=True)]
    book.close()
    assert phones and all(p.isdigit() and len(p) == 11 for p in phones)
