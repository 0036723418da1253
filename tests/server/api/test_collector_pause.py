"""Big request bodies run with the cyclic garbage collector paused, and it always resumes after them."""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator

import pytest
from flask import Flask

from server.limits import BIG_BODY
from tests.server.api.conftest import add_branch
from tests.server.api.test_sync_api import new_fields


@pytest.fixture
def seen(app: Flask) -> Iterator[list[bool]]:
    """Whether the collector ran during each request, as a hook after the app's own sees it."""
    during: list[bool] = []
    app.before_request(lambda: during.append(gc.isenabled()))
    yield during
    gc.enable()


def push(app: Flask, token: str, count: int) -> int:
    tickets = [
        {"sync_key": uuid.uuid4().hex, "fields": new_fields(f"SZ01-20261125-{n:04d}")} for n in range(count)
    ]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    response = app.test_client().post("/api/sync", json={"tickets": tickets}, headers=headers)
    return response.status_code


def test_a_big_push_pauses_the_collector_and_a_small_one_does_not(app, seen):
    token = add_branch(app, "SZ01")
    assert push(app, token, 2) == 200
    assert push(app, token, 1000) == 200
    assert seen == [True, False] and gc.isenabled()


def test_the_collector_resumes_after_a_big_body_refused_and_stays_off_if_it_was(app, seen):
    token = add_branch(app, "SZ01")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
    bad = b'{"tickets": [' + b" " * BIG_BODY + b"}"
    response = app.test_client().post("/api/sync", data=bad, headers=headers, content_type="application/json")
    assert response.status_code == 400 and gc.isenabled()
    gc.disable()
    assert push(app, token, 1000) == 200
    assert not gc.isenabled()
