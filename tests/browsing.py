"""What every Chromium test shares: the browser, a live server thread, a page that collects errors, sign-in.

Debian's Chromium at /usr/bin/chromium, driven by Playwright. Without it the
tests skip, unless REQUIRE_CHROMIUM=1 (CI), where that is a failure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from server.storage.db import get_db

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREEN = {"width": 1366, "height": 768}


def require_chromium() -> None:
    """Skip the test without Chromium; fail it when CI said Chromium must be there."""
    if CHROMIUM.exists():
        return
    if os.environ.get("REQUIRE_CHROMIUM") == "1":
        pytest.fail("REQUIRE_CHROMIUM=1 but /usr/bin/chromium is not installed (apt-get install chromium)")
    pytest.skip("Chromium is not installed at /usr/bin/chromium")


@contextmanager
def served(app: Flask) -> Iterator[str]:
    """Serve ``app`` on a free local port in a thread; its base URL. The database is let go afterwards."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            get_db().dispose()


def open_page(browser: Browser, problems: list[str], **options: Any) -> Page:
    """A new page at 1366×768 in Chinese whose console errors and page errors land in ``problems``."""
    context = browser.new_context(**{"viewport": SCREEN, "locale": "zh-CN", **options})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page


def sign_in_at(page: Page, url: str, username: str, password: str) -> None:
    """Open ``url`` (a dashboard page: the sign-in form comes first) and sign in."""
    page.goto(url)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
