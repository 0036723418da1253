"""Password guessing is throttled per account and per client address, on every door that takes a password.

The count lives in the database, so two apps on one database (two hosts) share
it; the right password waits out the window too, and works once it has passed.
"""

from __future__ import annotations

import base64
import statistics
import time
from datetime import timedelta

import pytest
from flask import Flask

from server import create_app
from server.auth import ADMIN, HEAD_OFFICE, check_user, hash_password
from server.storage.db import get_db
from server.storage.models import SigninFailureRow, UserRow
from tests.server.api.conftest import NOW, get_db_of

PASSWORD = "right-password"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):  # noqa: ANN204
        return self.now


def make_app(url: str, clock: Clock) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": url, "CLOCK": clock})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hosts(database_url, clock):
    """Two apps on one database, as two hosts; a head-office user "hq" and an admin "root"."""
    first, second = make_app(database_url, clock), make_app(database_url, clock)
    get_db_of(first).upgrade()
    with first.app_context(), get_db().write() as session:
        for name, role in (("hq", HEAD_OFFICE), ("root", ADMIN)):
            session.add(
                UserRow(username=name, password_hash=hash_password(PASSWORD), role=role, created_at=NOW)
            )
    yield first, second
    for app in (first, second):
        get_db_of(app).dispose()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def api_sign_in(app: Flask, user: str, password: str, address: str = "10.0.0.1"):  # noqa: ANN201
    return app.test_client().post(
        "/api/tokens", headers=basic(user, password), environ_base={"REMOTE_ADDR": address}
    )


def admin_sign_in(app: Flask, user: str, password: str, address: str = "10.0.0.1"):  # noqa: ANN201
    return app.test_client().get(
        "/admin/scheduler", headers=basic(user, password), environ_base={"REMOTE_ADDR": address}
    )


def dashboard_sign_in(app: Flask, user: str, password: str, address: str = "10.0.0.1"):  # noqa: ANN201
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get("/dashboard/signin").text
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post(
        "/dashboard/signin", data={"username": user, "password": password, "csrf_token": token}
    )


DOORS = {"api": (api_sign_in, 201), "admin": (admin_sign_in, 200), "dashboard": (dashboard_sign_in, 302)}


@pytest.mark.parametrize("door", DOORS)
def test_forty_wrong_passwords_lock_the_account_until_the_window_ends(hosts, clock, door):
    sign_in, ok = DOORS[door]
    first, second = hosts
    statuses = [sign_in((first, second)[n % 2], "hq", f"guess-{n}").status_code for n in range(40)]
    assert statuses[:5] == [401] * 5  # five wrong passwords are answered as wrong
    assert set(statuses[5:]) == {429}  # then the count, shared by both hosts, refuses without checking
    refused = sign_in(first, "hq", PASSWORD)
    assert refused.status_code == 429  # even the right password waits
    assert 1 <= int(refused.headers["Retry-After"]) <= 900
    assert "900" in refused.text or "s" in refused.text
    clock.now += timedelta(seconds=int(refused.headers["Retry-After"]))
    assert sign_in(second, "hq", PASSWORD).status_code == ok


def test_the_refusal_names_the_wait_in_both_languages_and_in_the_envelope(hosts):
    first, _ = hosts
    for n in range(6):
        response = api_sign_in(first, "hq", f"guess-{n}")
    assert response.status_code == 429
    body = response.get_json()
    assert body["error"] == "signin_throttled"
    assert body["where"]["retry_after"] == int(response.headers["Retry-After"])
    assert "try again in" in body["message"] and "秒后再试" in body["message"]


def test_the_dashboard_says_so_in_the_pages_language(hosts):
    first, _ = hosts
    for n in range(6):
        response = dashboard_sign_in(first, "hq", f"guess-{n}")
    assert response.status_code == 429
    assert "秒后再试" in response.text and response.headers["Retry-After"]


def test_one_address_trying_many_names_is_throttled_but_other_addresses_are_not(hosts):
    first, second = hosts
    statuses = [api_sign_in(first, f"nobody-{n}", "x", "10.0.0.9").status_code for n in range(25)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    assert api_sign_in(second, "hq", PASSWORD, "10.0.0.9").status_code == 429
    assert api_sign_in(second, "hq", PASSWORD, "10.0.0.10").status_code == 201


def test_a_right_password_clears_the_accounts_count(hosts):
    first, _ = hosts
    for _ in range(3):
        for n in range(4):
            assert api_sign_in(first, "hq", f"guess-{n}").status_code == 401
        assert api_sign_in(first, "hq", PASSWORD).status_code == 201  # a typo now and then never locks


def test_the_purge_job_deletes_windows_that_ended(hosts, clock):
    from server.scheduling.jobs import purge

    first, _ = hosts
    api_sign_in(first, "hq", "wrong")
    with first.app_context():
        assert purge(clock.now).changed == 0
        with get_db().read() as session:
            assert session.query(SigninFailureRow).count() == 2  # the account and the address
        purge(clock.now + timedelta(minutes=15))
        with get_db().read() as session:
            assert session.query(SigninFailureRow).count() == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unknown_user_name_costs_as_much_time_as_a_known_one(hosts):
    first, _ = hosts
    with first.app_context(), get_db().read() as session:
        check_user(session, "nobody", "warm-up")  # the dummy hash is made once, before timing

        def took(name: str) -> float:
            start = time.perf_counter()
            check_user(session, name, "wrong")
            return time.perf_counter() - start

        known, unknown = [], []
        for _ in range(9):
            known.append(took("hq"))
            unknown.append(took("nobody"))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert ratio < 1.2, f"unknown/known = {ratio:.2f}"
