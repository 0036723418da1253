"""Head-office figures on several gunicorn workers: every worker shows a sync at once.

Each worker keeps its own cache of overviews; a figure computed on one worker must
equal the same figure on another right after a branch synced. Real gunicorn, real
PostgreSQL (the scale-out path), the dashboard signed in over HTTP.
"""

from __future__ import annotations

import re
import uuid

import pytest
import requests
from flask import Flask

from server import create_app
from tests.server.api.conftest import Gunicorn, add_branch, add_head_office, get_db_of
from tests.server.dashboard.conftest import csrf_of

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

_TILE = re.compile(
    r'data-figure="(\w+)"><div class="tile-label">[^<]*</div><div class="tile-value">([^<]*)</div>'
)
OVERVIEW = "/dashboard/?from=2026-11-01&to=2026-11-30"
WORKERS = 3


def _ticket(n: int, media: bool = False) -> dict[str, object]:
    return {
        "sync_key": uuid.uuid4().hex,
        "base_version": None,
        "fields": {
            "ticket_id": f"SZ01-20261120-{n:04d}",
            "received_at": f"2026-11-20T0{n % 9}:00:00+08:00",
            "channel": "hotline",
            "customer_name": f"客户{n}",
            "contact": f"1380013{n:04d}",
            "category": "network_fault",
            "place": f"翠湖小区{n}栋",
            "problem_time": "每晚",
            "service": "宽带",
            "description": "晚上宽带断线，重启光猫后十分钟又断",
            "expectation": "一周内恢复",
            "grade": "moderate",
            "media_exposure": media,
        },
    }


def _push(server: Gunicorn, token: str, tickets: list[dict[str, object]]) -> None:
    response = requests.post(
        f"{server.url}/api/sync",
        json={"tickets": tickets, "cursor": 10**9},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert all(not rows for rows in response.json().get("rejected", {}).values()), response.text


def _tiles_seen(browser: requests.Session, server: Gunicorn, times: int) -> list[dict[str, str]]:
    """The overview's tiles as each of ``times`` requests saw them (spread over the workers)."""
    seen = []
    for _ in range(times):
        page = browser.get(server.url + OVERVIEW, timeout=60, headers={"Connection": "close"})
        assert page.status_code == 200
        seen.append(dict(_TILE.findall(page.text)))
    return seen


def test_every_worker_shows_a_sync_in_its_figures_at_once(migrated_url: str) -> None:
    app: Flask = create_app({"DATABASE_URL": migrated_url})
    token = add_branch(app, "SZ01")
    add_head_office(app, "hq", "hq-password")
    get_db_of(app).dispose()
    server = Gunicorn(migrated_url, workers=WORKERS)
    try:
        _push(server, token, [_ticket(n) for n in range(1, 4)])
        browser = requests.Session()
        csrf = csrf_of(browser.get(server.url + "/dashboard/signin", timeout=60).text)
        signed = browser.post(
            server.url + "/dashboard/signin",
            data={"username": "hq", "password": "hq-password", "csrf_token": csrf},
            timeout=60,
            allow_redirects=False,
        )
        assert signed.status_code == 302

        before = _tiles_seen(browser, server, 5 * WORKERS)  # every worker caches this overview
        assert before[0]["received"] == "3" and before[0]["red"] == "0"
        assert all(tiles == before[0] for tiles in before)

        _push(server, token, [_ticket(4, media=True), _ticket(5)])
        after = _tiles_seen(browser, server, 5 * WORKERS)
        assert after[0]["received"] == "5" and after[0]["red"] == "1"
        assert all(tiles == after[0] for tiles in after), "a worker showed figures from before the sync"
    finally:
        server.stop()
