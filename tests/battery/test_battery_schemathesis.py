"""Battery item 10: schemathesis against the served OpenAPI: 0 server errors, responses as documented.

The document is the one flask-smorest serves at ``/api/openapi.json``; the calls
go to the WSGI app in-process. Each operation gets at least ``CASES`` generated
cases (valid and invalid) with a valid token of every role it accepts; some of
the generated path parameters are swapped for real ids (an own ticket, another
branch's ticket, an own conflict, another branch's conflict) so the fuzzer
reaches the code behind the 404. ``BATTERY_PROFILE=long`` runs more cases.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple
from unittest.mock import ANY

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from server import create_app
from tests.server.api.conftest import (
    NOW,
    PG_ADMIN_URL,
    _drop_postgres_database,
    _fresh_postgres_database,
    _postgres_available,
    add_branch,
    add_head_office,
    app,  # noqa: F401 (fixture)
    database_url,  # noqa: F401 (fixture)
    get_db_of,
)
from tests.server.api.test_sync_api import new_fields, sync

pytestmark = pytest.mark.battery

LONG = os.environ.get("BATTERY_PROFILE", "ci") == "long"
CASES = 1000 if LONG else 100
OWN_TICKET, OTHER_TICKET = "a" * 32, "b" * 32
OWN_CONFLICT, OTHER_CONFLICT = 1, 2  # the first two conflicts of a fresh database
HQ_USER, HQ_PASSWORD = "hq", "hq-password"
ROLES = {
    "POST /api/sync": ("branch",),
    "GET /api/tickets": ("branch", "head_office"),
    "GET /api/tickets/{sync_key}": ("branch", "head_office"),
    "POST /api/tickets/{sync_key}/escalate": ("branch", "head_office"),
    "GET /api/conflicts": ("branch", "head_office"),
    "POST /api/conflicts/{conflict_id}/resolve": ("branch", "head_office"),
    "POST /api/tokens": ("password",),
    "GET /api/consolidated": ("head_office",),
    "GET /api/tickets/{sync_key}/dossier.pdf": ("branch", "head_office"),
    "GET /api/tickets/{sync_key}/dossier.xlsx": ("branch", "head_office"),
    "POST /api/tickets/{sync_key}/messages": ("branch", "head_office"),
}
"""Who may call each operation; an operation missing here fails the test, so none goes untested."""
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
"""Not ``negative_data_rejection``: the test puts a valid token back on cases meant to lack one, and unknown
query parameters are ignored by design."""
SEEN: Counter[tuple[str, str]] = Counter()
"""Cases run per (database, operation)."""


class Served(NamedTuple):
    database: str
    app: Flask
    headers: dict[str, dict[str, str]]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The app on a fresh database with two branches, tickets and conflicts in each, and head office."""
    pg_name = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('schemathesis') / 'api.db'}"
    elif _postgres_available():
        url, pg_name = _fresh_postgres_database()
    elif os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {PG_ADMIN_URL}")
    else:
        pytest.skip("PostgreSQL not reachable")
    flask_app = create_app(
        {"TESTING": True, "DATABASE_URL": url, "CLOCK": lambda: NOW, "RATE_LIMIT_PER_MINUTE": 0}
    )
    get_db_of(flask_app).upgrade()
    own, other = add_branch(flask_app, "SZ01"), add_branch(flask_app, "GZ01")
    hq = add_head_office(flask_app, HQ_USER, HQ_PASSWORD)
    client = flask_app.test_client()
    for token, sync_key, number in (
        (own, OWN_TICKET, "SZ01-20261125-0001"),
        (other, OTHER_TICKET, "GZ01-20261125-0001"),
    ):
        sync(client, token, {"tickets": [{"sync_key": sync_key, "fields": new_fields(number)}]})
        for cause in ("a", "b"):  # two pushes on version 1: a conflict
            sync(
                client,
                token,
                {"tickets": [{"sync_key": sync_key, "base_version": 1, "fields": {"cause": cause}}]},
            )
    basic = base64.b64encode(f"{HQ_USER}:{HQ_PASSWORD}".encode()).decode()
    headers = {
        "branch": {"Authorization": f"Bearer {own}"},
        "head_office": {"Authorization": f"Bearer {hq}"},
        "password": {"Authorization": f"Basic {basic}"},
    }
    yield Served(request.param, flask_app, headers)
    get_db_of(flask_app).dispose()
    if pg_name is not None:
        _drop_postgres_database(pg_name)


@pytest.fixture(scope="module")
def api_schema(served: Served):  # noqa: ANN201
    return schemathesis.openapi.from_wsgi("/api/openapi.json", served.app)


@schemathesis.hook
def before_generate_path_parameters(context, strategy):  # noqa: ANN001, ANN201
    """Mix real ids into the generated ones: own and another branch's ticket and conflict."""
    if context.operation is None:
        return strategy
    if "{sync_key}" in context.operation.path:
        return st.one_of(strategy, st.sampled_from([{"sync_key": OWN_TICKET}, {"sync_key": OTHER_TICKET}]))
    if "{conflict_id}" in context.operation.path:
        return st.one_of(
            strategy, st.sampled_from([{"conflict_id": OWN_CONFLICT}, {"conflict_id": OTHER_CONFLICT}])
        )
    return strategy


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=CASES,
    deadline=None,
    database=None,
    derandomize=not LONG,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_with_a_server_error(case, served):  # noqa: ANN001
    label = f"{case.operation.method.upper()} {case.operation.path}"
    assert label in ROLES, f"{label} is not in ROLES: say who may call it"
    SEEN[served.database, label] += 1
    for role in ROLES[label]:
        response = case.call(headers=served.headers[role])
        case.validate_response(response, checks=CHECKS)


def test_every_operation_got_its_cases(served):
    """Runs after the fuzzing above (same module): each operation had at least CASES cases."""
    seen = {label: SEEN[served.database, label] for label in ROLES}
    if not any(seen.values()):
        pytest.skip("the fuzzing test was not selected")
    print(f"\nschemathesis cases per operation ({served.database}):", seen)
    few = {label: n for label, n in seen.items() if n < CASES}
    assert not few, f"fewer than {CASES} cases: {few}"


# --- what the fuzzer found (each was a 500), kept as plain regression tests --------------------------------


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite stores it (battery item 5)
def test_a_nul_character_anywhere_is_refused_on_postgresql_with_400_naming_the_place(app):  # noqa: F811
    """PostgreSQL cannot store U+0000: a NUL in a field, a parameter or a header failed in the query (500)."""
    client, token = app.test_client(), add_branch(app, "SZ01")
    created = sync(client, token, {"tickets": [{"sync_key": OWN_TICKET, "fields": new_fields()}]})
    assert created["pushed"]["rejected"]["tickets"] == []
    push = {"tickets": [{"sync_key": OWN_TICKET, "base_version": 1, "fields": {"cause": "网络\x00故障"}}]}
    response = client.post("/api/sync", json=push, headers=_auth(token))
    assert response.status_code == 400
    assert response.json["where"] == {"field": "json.tickets.0.fields.cause"}
    assert "json.tickets.0.fields.cause" in response.json["message"] and "空字符" in response.json["message"]
    assert client.get("/api/tickets?status=new%00", headers=_auth(token)).json["where"] == {"query": "status"}
    device = client.post("/api/sync", json={}, headers={**_auth(token), "X-Device": "pc\x00"})
    assert (device.status_code, device.json["where"]) == (400, {"header": "X-Device"})
    stored = client.get(f"/api/tickets/{OWN_TICKET}", headers=_auth(token)).json["ticket"]
    assert (stored["cause"], stored["version"]) == ("", 1)


def test_values_the_database_cannot_hold_reject_the_row_naming_the_field(app):  # noqa: F811
    client, token = app.test_client(), add_branch(app, "SZ01")
    sync(client, token, {"tickets": [{"sync_key": OWN_TICKET, "fields": new_fields()}]})
    edits = [
        {"objection_count": 2**70},  # over the database's INTEGER
        {"received_at": "9999-12-31T23:59:59+00:00"},  # its deadlines overflowed the datetime range
        {"grade": None},  # every deadline depends on it
    ]
    out = sync(
        client,
        token,
        {
            "tickets": [{"sync_key": OWN_TICKET, "base_version": 1, "fields": f} for f in edits[:1]],
            "tasks": [
                {"sync_key": "c" * 32, "ticket_key": OWN_TICKET, "fields": {"task_no": 2**70, "title": "t"}}
            ],
        },
    )
    assert out["pushed"]["rejected"]["tickets"][0]["errors"][0]["field"] == "objection_count"
    assert "out of range" in out["pushed"]["rejected"]["tasks"][0]["errors"][0]["message"]
    for fields in edits[1:]:
        out = sync(
            client, token, {"tickets": [{"sync_key": OWN_TICKET, "base_version": 1, "fields": fields}]}
        )
        assert [e["field"] for e in out["pushed"]["rejected"]["tickets"][0]["errors"]] == list(fields)
    assert client.get(f"/api/tickets/{OWN_TICKET}", headers=_auth(token)).json["ticket"]["version"] == 1
    listed = client.get(f"/api/tickets?offset={2**63}", headers=_auth(token))
    assert listed.status_code == 422 and "query.offset" in listed.json["message"]
    resolved = client.post(f"/api/conflicts/{2**63}/resolve", json={"keep": "server"}, headers=_auth(token))
    assert resolved.status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_consolidated_period_beyond_2000_to_2100_is_a_422_naming_the_field(app):  # noqa: F811
    """Year 9999 overflowed in the analysis (200 with a broken workbook); centuries took a minute to build."""
    client, token = app.test_client(), add_head_office(app)
    response = client.get("/api/consolidated?start=2026-11-01&end=9999-12-31", headers=_auth(token))
    assert response.status_code == 422
    assert response.json["where"] == {"query": {"end": [ANY]}} and "query.end" in response.json["message"]
