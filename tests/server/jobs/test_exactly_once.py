"""Exactly one scheduler runs each slot: four real gunicorn workers each start one, one leads.

A heartbeat job fires every second. Over ten slots there are ten runs, all by
the leader; after the leader is killed a standby takes the lease and the slots
go on being run, each once.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from server.storage.models import JobRunRow, SchedulerLeaseRow
from tests.server.api.conftest import Gunicorn

pytestmark = pytest.mark.battery

LEASE_SECONDS = 2
ENV = {
    "FLASK_SCHEDULER_ENABLED": "true",
    "FLASK_SCHEDULER_JOBS": "heartbeat",
    "FLASK_SCHEDULER_HEARTBEAT_SECONDS": "1",
    "FLASK_SCHEDULER_LEASE_SECONDS": str(LEASE_SECONDS),
    "FLASK_SCHEDULER_POLL_SECONDS": "0.25",
}


def runs(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        query = select(JobRunRow.slot, JobRunRow.pid, JobRunRow.duplicates, JobRunRow.trigger)
        return list(conn.execute(query.where(JobRunRow.job_id == "heartbeat").order_by(JobRunRow.slot)))


def leader_pid(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(select(SchedulerLeaseRow.pid))


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_four_workers_run_each_slot_once_and_a_standby_takes_over_from_a_killed_leader(
    migrated_url: str,
) -> None:
    engine = create_engine(migrated_url)
    server = Gunicorn(migrated_url, workers=4, extra_env=ENV)
    try:
        first_leader = wait_for(lambda: leader_pid(engine), 30, "a leader")
        start = wait_for(lambda: runs(engine), 20, "the first heartbeat")[0].slot
        window = [as_utc(start) + timedelta(seconds=s) for s in range(1, 11)]  # ten slots after the first
        wait_for(lambda: any(as_utc(r.slot) > window[-1] for r in runs(engine)), 30, "ten more slots")
        seen = [r for r in runs(engine) if window[0] <= as_utc(r.slot) <= window[-1]]
        assert [as_utc(r.slot) for r in seen] == window  # each of the 10 slots ran, once
        assert {r.pid for r in seen} == {first_leader}
        assert sum(r.duplicates for r in runs(engine)) == 0  # no other worker even tried a slot

        killed_at = datetime.now(UTC)
        os.kill(first_leader, signal.SIGKILL)
        second_leader = wait_for(
            lambda: (pid := leader_pid(engine)) != first_leader and pid, LEASE_SECONDS + 15, "a new leader"
        )
        taken = wait_for(
            lambda: [r for r in runs(engine) if r.pid == second_leader],
            LEASE_SECONDS + 15,
            "the new leader's run",
        )
        resumed = as_utc(taken[0].slot)
        assert resumed - killed_at < timedelta(
            seconds=LEASE_SECONDS + 3
        )  # the lease expired (SQLite) or dropped
        # five slots in a row once the new leader has settled in (its first run may outlast a slot:
        # a skipped heartbeat is not a duplicate, and the jobs it stands for catch up at their next run)
        after = [resumed + timedelta(seconds=s) for s in range(2, 7)]
        wait_for(
            lambda: any(as_utc(r.slot) > after[-1] for r in runs(engine)), 20, "slots after the takeover"
        )
        later = [r for r in runs(engine) if after[0] <= as_utc(r.slot) <= after[-1]]
        assert [as_utc(r.slot) for r in later] == after
        assert {r.pid for r in later} == {second_leader}
        assert sum(r.duplicates for r in runs(engine)) == 0
        slots = [r.slot for r in runs(engine)]
        assert len(slots) == len(set(slots))
    finally:
        server.stop()
        engine.dispose()
