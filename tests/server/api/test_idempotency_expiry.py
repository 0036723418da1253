"""Idempotency keys keep what a resend needs (not the pull) for 48 hours; then the purge job deletes them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server import create_app
from server.scheduling.jobs import purge
from server.scheduling.scheduler import job_specs
from server.storage.db import get_db
from server.storage.models import IdempotencyRow
from tests.server.api.conftest import NOW, add_branch, get_db_of
from tests.server.api.test_sync_api import key, new_fields

pytestmark = pytest.mark.battery


def stored(app) -> tuple[int, int]:  # noqa: ANN001
    """How many keys are kept, and the bytes of the responses they keep."""
    with app.app_context(), get_db().read() as session:
        count, size = session.execute(
            select(func.count(), func.coalesce(func.sum(func.length(IdempotencyRow.response)), 0))
        ).one()
        return count, size


def test_a_resend_within_48_hours_replays_and_the_purge_then_frees_the_stored_response(database_url):
    moment = {"now": NOW}
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "CLOCK": lambda: moment["now"]})
    get_db_of(app).upgrade()
    client, token = app.test_client(), add_branch(app, "SZ01")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "push-1"}
    body = {
        "tickets": [{"sync_key": key(), "fields": new_fields(f"SZ01-20261125-{n:04d}")} for n in range(30)]
    }
    first = client.post("/api/sync", json=body, headers=headers)
    assert first.status_code == 200
    count, size = stored(app)
    assert count == 1 and size < len(first.data) / 2  # the outcomes of the push, not the pull
    full_pull = client.post("/api/sync", json={"cursor": 0}, headers={**headers, "Idempotency-Key": "pull-1"})
    assert len(full_pull.data) > 20_000 and len(full_pull.json["pulled"]["tickets"]) == 30
    assert stored(app)[1] - size < 200  # a full pull keeps a few bytes, not its answer

    moment["now"] = NOW + timedelta(hours=47)
    with app.app_context():
        assert purge(moment["now"]).changed == 0
    again = client.post("/api/sync", json=body, headers=headers)
    assert again.json == first.json  # replayed, not applied twice
    assert client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json["total"] == 30

    moment["now"] = NOW + timedelta(hours=48, minutes=1)
    with app.app_context():
        result = purge(moment["now"])
    assert result.changed == 2 and "2 idempotency keys" in result.detail
    assert stored(app) == (0, 0)
    get_db_of(app).dispose()


def test_the_purge_runs_on_the_scheduler_by_default():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    assert "purge" in [spec.id for spec in job_specs(app.config)]


def test_a_resend_gets_the_pull_of_its_own_moment_with_the_outcome_of_the_first_send(app):
    client, token = app.test_client(), add_branch(app, "SZ01")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "push-1"}
    body = {"tickets": [{"sync_key": key(), "fields": new_fields()}]}
    first = client.post("/api/sync", json=body, headers=headers).json
    other = {"tickets": [{"sync_key": key(), "fields": new_fields("SZ01-20261125-0002")}]}
    client.post("/api/sync", json=other, headers={**headers, "Idempotency-Key": "push-2"})
    again = client.post("/api/sync", json=body, headers=headers).json
    assert again["pushed"] == first["pushed"]  # the first send's outcome, not applied twice
    assert len(first["pulled"]["tickets"]) == 1 and len(again["pulled"]["tickets"]) == 2
    assert again["pulled"]["cursor"] > first["pulled"]["cursor"]
