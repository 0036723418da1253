"""Bodies over MAX_CONTENT_LENGTH get 413 under a real gunicorn, with Content-Length and chunked."""

from __future__ import annotations

import http.client
import json

import pytest
from flask import Flask

from server import create_app
from tests.server.api.conftest import Gunicorn, add_branch, get_db_of

pytestmark = pytest.mark.battery

LIMIT = 64 * 1024


@pytest.fixture
def served(migrated_url):
    app: Flask = create_app({"DATABASE_URL": migrated_url})
    token = add_branch(app, "SZ01")
    get_db_of(app).dispose()
    server = Gunicorn(migrated_url, workers=2, extra_env={"FLASK_MAX_CONTENT_LENGTH": str(LIMIT)})
    yield server, token
    server.stop()


def post(server: Gunicorn, token: str, body: bytes, chunked: bool) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k", "Content-Type": "application/json"}
    if chunked:
        conn.putrequest("POST", "/api/sync")
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            conn.putheader(name, value)
        conn.endheaders()
        for start in range(0, len(body), 8192):
            piece = body[start : start + 8192]
            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        conn.send(b"0\r\n\r\n")
    else:
        conn.request("POST", "/api/sync", body=body, headers=headers)
    return conn.getresponse()


def big_body(size: int) -> bytes:
    entry = {"sync_key": "0" * 32, "ticket_key": "1" * 32, "at": "2026-11-25T01:00:00+00:00", "kind": "note"}
    return json.dumps({"log": [{**entry, "text": "x" * size}]}).encode()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_refused_with_413_never_a_truncated_200(served, chunked):
    server, token = served
    response = post(server, token, big_body(LIMIT * 2), chunked)
    assert response.status == 413
    assert json.loads(response.read())["error"] == "request_entity_too_large"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_chunked_body_under_the_limit_is_read_whole(served):
    server, token = served
    response = post(server, token, json.dumps({"cursor": 0}).encode(), chunked=True)
    assert response.status == 200
    assert json.loads(response.read())["pulled"]["cursor"] == 0
