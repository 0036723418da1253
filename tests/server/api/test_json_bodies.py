"""Bodies that are not strict JSON get a 4xx naming the problem, never a 500; JSON sent as another content
type gets 415 and leaves its Idempotency-Key unused."""

from __future__ import annotations

import json

import pytest

from tests.server.api.conftest import add_branch
from tests.server.api.test_sync_api import key, new_fields


def post(app, token: str, body: bytes, content_type: str = "application/json", idem: str | None = None):  # noqa: ANN001, ANN201
    headers = {
        "Authorization": f"Bearer {token}",
        "Idempotency-Key": idem or key(),
        "Content-Type": content_type,
    }
    return app.test_client().post("/api/sync", data=body, headers=headers)


BAD_BODIES = {
    "lone surrogate": (b'{"cursor": 0, "branch": "\\ud800"}', "lone_surrogate", "json.branch"),
    "lone surrogate in a key": (b'{"cursor": 0, "\\udc00": 1}', "lone_surrogate", "json (a key)"),
    "nested 1000 deep": (b'{"cursor": 0, "x": ' + b"[" * 1000 + b"]" * 1000 + b"}", "json_too_deep", None),
    "nested 40 deep": (b'{"x": ' + b"[" * 40 + b"]" * 40 + b"}", "json_too_deep", None),
    "5000-digit integer": (b'{"cursor": ' + b"9" * 5000 + b"}", "bad_number", None),
    "huge float": (b'{"cursor": 1e999}', "bad_number", None),
    "NaN": (b'{"cursor": NaN}', "bad_number", None),
    "not UTF-8": (b'{"branch": "\xff"}', "bad_json", None),
    "not JSON": (b'{"cursor": ', "bad_json", None),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_a_body_that_is_not_strict_json_is_a_400_naming_the_problem(app, name):
    body, code, field = BAD_BODIES[name]
    response = post(app, add_branch(app, "SZ01"), body)
    assert response.status_code == 400, response.text
    envelope = response.get_json()
    assert envelope["error"] == code
    assert envelope["message"].startswith("the request body is not accepted: ")
    if field is not None:
        assert envelope["where"] == {"field": field}


def test_a_paired_surrogate_is_an_ordinary_character(app):
    token = add_branch(app, "SZ01")
    body = json.dumps({"tickets": [{"sync_key": key(), "fields": new_fields(description="表情 😀")}]})
    assert "\\ud83d\\ude00" in body  # ASCII JSON: the emoji as its surrogate pair
    response = post(app, token, body.encode())
    assert response.status_code == 200, response.text
    assert response.get_json()["pulled"]["tickets"][0]["description"] == "表情 😀"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_json_sent_as_another_type_is_415_and_the_key_stays_unused(app, content_type):
    token = add_branch(app, "SZ01")
    body = json.dumps({"tickets": [{"sync_key": key(), "fields": new_fields()}]})
    refused = post(app, token, body.encode(), content_type, idem="push-1")
    assert refused.status_code == 415
    assert refused.get_json()["error"] == "unsupported_media_type"
    assert refused.get_json()["where"] == {"header": "Content-Type"}
    applied = post(app, token, body.encode(), idem="push-1")  # the same key as JSON: applied
    assert applied.status_code == 200
    assert len(applied.get_json()["pushed"]["tickets"]) == 1
