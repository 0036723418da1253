"""Idempotency keys are kept 48 hours for resends, then the purge job deletes them and their responses."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from server import create_app
from server.scheduling.jobs import purge
from server.scheduling.scheduler import job_specs
from server.storage.db import get_db
from server.storage.models import IdempotencyRow
from tests.server.api.conftest import NOW, add_branch, get_db_of
from tests.server.api.test_sync_api import key, new_fields


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
    assert count == 1 and size > 10_000  # the whole pull is kept for a resend

    moment["now"] = NOW + timedelta(hours=47)
    with app.app_context():
        assert purge(moment["now"]).changed == 0
    again = client.post("/api/sync", json=body, headers=headers)
    assert again.json == first.json  # replayed, not applied twice
    assert client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json["total"] == 30

    moment["now"] = NOW + timedelta(hours=48, minutes=1)
    with app.app_context():
        result = purge(moment["now"])
    assert result.changed == 1 and "1 idempotency keys" in result.detail
    assert stored(app) == (0, 0)
    get_db_of(app).dispose()


def test_the_purge_runs_on_the_scheduler_by_default():
    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://"})
    assert "purge" in [spec.id for spec in job_specs(app.config)]
