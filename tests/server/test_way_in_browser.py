"""End to end in Chromium: from ``/`` to the branch portal, sign in, download the workbook and the manifest.

The real app in a werkzeug thread on SQLite, Debian's Chromium (skipped when
/usr/bin/chromium is absent, unless REQUIRE_CHROMIUM=1). The server's public
address is HTTPS (``SERVER_URL``), as behind the reverse proxy of docs/deploy.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask

from server import create_app
from server.storage.db import get_db
from server.xlsx import read_workbook
from tests.browsing import ARGS, CHROMIUM, open_page, require_chromium, served
from tests.server.api.conftest import NOW, add_branch

PUBLIC = "https://desk.example.cn"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    require_chromium()
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
            "CLOCK": lambda: NOW,
            "SERVER_URL": PUBLIC,
            "SECRET_KEY": "browser-test",
        }
    )
    with app.app_context():
        get_db().upgrade()
    yield app
    with app.app_context():
        get_db().dispose()


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    with served(app) as url:
        yield url


def test_from_the_home_page_a_branch_signs_in_and_downloads_its_workbook_and_the_manifest(
    app: Flask, live_url: str, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    token = add_branch(app, "SZ01")
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = open_page(browser, problems, accept_downloads=True)

        page.goto(f"{live_url}/")
        expect(page.get_by_role("link", name="总部看板 / Head-office dashboard")).to_be_visible()
        page.get_by_role("link", name="分支机构入口 / Branch portal").click()
        page.get_by_label("分支机构编码").fill("SZ01")
        page.get_by_label("访问令牌").fill(token)
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", name="下载与安装")).to_be_visible()
        expect(page.get_by_role("link", name="总部看板")).to_have_attribute("href", "/dashboard/")

        saved = {}
        for label in (
            "本网点的空白工作簿（中文表头）",
            "网页版加载项清单 manifest.xml（Excel 网页版、Mac，或没有 Python 的电脑）",
        ):
            with page.expect_download() as info:
                page.get_by_role("link", name=label).click()
            saved[label] = tmp_path / info.value.suggested_filename
            info.value.save_as(saved[label])
        page.context.close()
        browser.close()

    workbook, manifest = saved.values()
    assert workbook.name == "SZ01.xlsx" and manifest.name == "complaint-desk-manifest.xml"
    checked = app.test_cli_runner().invoke(args=["workbook", "check", str(workbook)])
    assert checked.exit_code == 0 and "branch SZ01, 0 tickets" in checked.output, checked.output
    settings = read_workbook(workbook, now=NOW).settings
    assert (settings.branch, settings.server_url, settings.timezone) == ("SZ01", PUBLIC, "Asia/Shanghai")
    root = ElementTree.fromstring(manifest.read_bytes())
    source = root.find(".//{http://schemas.microsoft.com/office/appforoffice/1.1}SourceLocation")
    assert source is not None and source.get("DefaultValue") == f"{PUBLIC}/officejs/commands.html"
    assert not problems
