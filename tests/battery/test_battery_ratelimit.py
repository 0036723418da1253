"""Battery item 9: the rate limit per token holds across gunicorn workers — 429 whichever worker answers.

Gunicorn runs 4 workers of an app whose clock reads a file, so the test moves
every worker to the next minute at once instead of sleeping.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import select

from server import create_app
from server.auth import digest
from server.ratelimit import RateLimitRow, window_of
from server.storage.db import get_db
from server.storage.models import TokenRow
from tests.server.api.conftest import (  # noqa: F401 (fixtures)
    NOW,
    Gunicorn,
    add_branch,
    database_url,
    get_db_of,
    migrated_url,
)

pytestmark = pytest.mark.battery

LIMIT = 20
T0 = datetime(2026, 11, 25, 2, 0, 30, tzinfo=UTC)  # 30 s into a minute: Retry-After is 30
CLOCK_ENV = "BATTERY_RATE_LIMIT_CLOCK_FILE"


def file_clock_app() -> Flask:
    """The app under gunicorn, its clock read from a file the test writes; each answer names its worker."""
    path = Path(os.environ[CLOCK_ENV])
    app = create_app({"CLOCK": lambda: datetime.fromisoformat(path.read_text())})

    @app.after_request
    def _name_worker(response):  # noqa: ANN001, ANN202
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app


@pytest.fixture
def served(migrated_url, tmp_path):  # noqa: F811
    app: Flask = create_app({"DATABASE_URL": migrated_url})
    tokens = add_branch(app, "SZ01"), add_branch(app, "GZ01")
    get_db_of(app).dispose()
    clock_file = tmp_path / "now"
    clock_file.write_text(T0.isoformat())
    server = Gunicorn(
        migrated_url,
        workers=4,
        extra_env={
            "FLASK_RATE_LIMIT_PER_MINUTE": str(LIMIT),
            "FLASK_SCHEDULER_ENABLED": "false",
            CLOCK_ENV: str(clock_file),
        },
        app_spec="tests.battery.test_battery_ratelimit:file_clock_app()",
    )
    yield server, tokens, clock_file, migrated_url
    server.stop()


def get_tickets(server: Gunicorn, token: str) -> requests.Response:
    # a new connection each time, so the kernel hands it to any of the workers
    return requests.get(
        f"{server.url}/api/tickets",
        headers={"Authorization": f"Bearer {token}", "Connection": "close"},
        timeout=60,
    )


def burst(server: Gunicorn, token: str, n: int) -> list[requests.Response]:
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: get_tickets(server, token), range(n)))


def test_a_token_over_its_limit_gets_429_from_every_worker_until_the_next_minute(served):
    server, (token, other), clock_file, url = served
    answers = burst(server, token, 3 * LIMIT)

    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == LIMIT and statuses.count(429) == 2 * LIMIT
    refusing_workers = {r.headers["X-Worker-Pid"] for r in answers if r.status_code == 429}
    for _ in range(25):  # on a busy machine the kernel may hand a whole burst to one worker: ask on
        if len(refusing_workers) >= 2:
            break
        more = burst(server, token, 8)
        assert all(r.status_code == 429 for r in more)
        refusing_workers |= {r.headers["X-Worker-Pid"] for r in more}
    assert len(refusing_workers) >= 2
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["Retry-After"] == "30"
    body = refused.json()
    assert body["error"] == "rate_limited" and body["where"]["retry_after"] == 30
    assert f"more than {LIMIT} a minute" in body["message"] and f"每分钟超过 {LIMIT} 次" in body["message"]

    assert [get_tickets(server, other).status_code for _ in range(5)] == [200] * 5  # another token is free
    assert get_tickets(server, "cdt_not-a-token").status_code == 401  # a bad token is not counted, still 401

    clock_file.write_text((T0 + timedelta(seconds=40)).isoformat())  # the next minute, in every worker
    assert [r.status_code for r in burst(server, token, LIMIT)] == [200] * LIMIT
    assert get_tickets(server, token).status_code == 429

    app = create_app({"DATABASE_URL": url})
    with app.app_context(), get_db().read() as session:
        ids = {
            t: session.scalar(select(TokenRow.id).where(TokenRow.token_hash == digest(t)))
            for t in (token, other)
        }
        rows = set(session.execute(select(RateLimitRow.token_id, RateLimitRow.minute)))
    get_db_of(app).dispose()
    minute = window_of(T0)
    # a row per token used, none for the bad one; the limited token's finished minute is cleaned up
    assert rows == {(ids[token], minute + 1), (ids[other], minute)}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_zero_turns_the_limit_off(database_url):  # noqa: F811
    app = create_app({"DATABASE_URL": database_url, "CLOCK": lambda: NOW, "RATE_LIMIT_PER_MINUTE": 0})
    get_db_of(app).upgrade()
    token = add_branch(app, "SZ01")
    client = app.test_client()
    statuses = {
        client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).status_code for _ in range(3)
    }
    assert statuses == {200}
    with app.app_context(), get_db().read() as session:
        assert session.query(RateLimitRow).count() == 0
