"""APScheduler wiring: the jobs on their triggers, run by exactly one process (the lease's leader).

Every process that starts the scheduler runs an `Elector`; the one holding the
lease (`server.scheduling.leader`) runs a BackgroundScheduler with the jobs, the others
stand by and take over when it dies. Each run first claims its slot — the
scheduled fire time — in ``job_runs`` (unique per job and slot), inside a
transaction that also checks the lease, so even a leader that lost its lease
without noticing cannot run a slot twice. A new leader runs, once, any job
whose latest slot passed unrun within its grace period (a daily digest is not
lost because the leader died at 07:59).

It starts in-process when ``SCHEDULER_ENABLED`` is true, under a WSGI server
(gunicorn: every worker stands by, one leads) or ``flask run``; and as its own
process with ``flask --app server scheduler run`` (`server.cli.scheduler`).
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import click
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from flask.cli import run_command
from flask.helpers import get_debug_flag
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from werkzeug.serving import is_running_from_reloader

from server import clock
from server.clock import system_now
from server.scheduling import jobs
from server.scheduling.leader import Elector, Lease, lease_holder, make_lease
from server.storage.db import get_db
from server.storage.models import JobRunRow, OutboxRow

logger = logging.getLogger(__name__)

EXTENSION = "complaint_desk_scheduler"
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Interval jobs fire on a grid from here, so every process agrees on the slots."""
DEFAULTS: dict[str, Any] = {
    "SCHEDULER_ENABLED": False,
    "SCHEDULER_JOBS": None,  # None: every job below except the heartbeat; else a list or comma-separated ids
    "SCHEDULER_SCAN_SECONDS": 300,
    "SCHEDULER_OUTBOX_SECONDS": 30,
    "SCHEDULER_HEARTBEAT_SECONDS": 60,
    "SCHEDULER_PURGE_SECONDS": 3600,
    "IDEMPOTENCY_KEEP_HOURS": 48,
    "SCHEDULER_DIGEST_HOUR": 8,
    "SCHEDULER_BACKUP_HOUR": 2,
    "BACKUP_DIR": "",  # empty: instance/backups
    "BACKUP_KEEP": 14,
    "SCHEDULER_LEASE_SECONDS": 30,
    "SCHEDULER_POLL_SECONDS": 5,
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_FROM": "complaint-desk@localhost",
    "SMTP_TLS": "",
    "SMS_GATEWAY_URL": "",  # empty: SMS messages wait in the outbox
    "SMS_GATEWAY_TOKEN": "",
    "SMS_SENDER": "",
    "SMS_TIMEOUT": 10,
    "OUTBOX_BACKOFF_SECONDS": 60,
    "OUTBOX_BACKOFF_MAX": 3600,
    "OUTBOX_CLAIM_SECONDS": 600,
    "NOTIFY_LANGUAGE": "zh",
}


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[..., jobs.JobResult]
    trigger: BaseTrigger
    grace: timedelta
    """A slot found unrun later than this after its time is skipped, not run late."""
    lookback: timedelta
    """How far back to look for the latest slot (more than one period)."""


def all_job_specs(config: Any) -> dict[str, JobSpec]:
    """Every job the scheduler knows, each with its trigger from ``config``."""
    zone = ZoneInfo(config["TIMEZONE"])
    hour = int(config["SCHEDULER_DIGEST_HOUR"])

    def every(seconds: float) -> tuple[IntervalTrigger, timedelta, timedelta]:
        period = timedelta(seconds=seconds)
        return IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC), period, 2 * period

    day = timedelta(days=1)
    table = {
        "flag_scan": (jobs.flag_scan, *every(float(config["SCHEDULER_SCAN_SECONDS"]))),
        "outbox": (jobs.outbox, *every(float(config["SCHEDULER_OUTBOX_SECONDS"]))),
        "daily_digest": (
            jobs.daily_digest,
            CronTrigger(hour=hour, minute=0, timezone=zone),
            6 * day / 24,
            2 * day,
        ),
        "overdue_reminders": (
            jobs.overdue_reminders,
            CronTrigger(hour=hour, minute=5, timezone=zone),
            6 * day / 24,
            2 * day,
        ),
        "monthly_analysis": (
            jobs.monthly_analysis,
            CronTrigger(day=1, hour=6, timezone=zone),
            3 * day,
            62 * day,
        ),
        "daily_backup": (
            jobs.daily_backup,
            CronTrigger(hour=int(config["SCHEDULER_BACKUP_HOUR"]), minute=30, timezone=zone),
            6 * day / 24,
            2 * day,
        ),
        "calendar_reminder": (jobs.calendar_reminder, CronTrigger(hour=9, timezone=zone), day / 2, 2 * day),
        "purge": (jobs.purge, *every(float(config["SCHEDULER_PURGE_SECONDS"]))),
        "heartbeat": (jobs.heartbeat, *every(float(config["SCHEDULER_HEARTBEAT_SECONDS"]))),
    }
    return {i: JobSpec(i, *entry) for i, entry in table.items()}


def job_specs(config: Any) -> list[JobSpec]:
    """The jobs ``SCHEDULER_JOBS`` enables (by default all but the heartbeat)."""
    known = all_job_specs(config)
    wanted = config.get("SCHEDULER_JOBS")
    if wanted is None:
        return [s for i, s in known.items() if i != "heartbeat"]
    ids = [w.strip() for w in (wanted.split(",") if isinstance(wanted, str) else wanted) if w.strip()]
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise ValueError(f"SCHEDULER_JOBS: unknown job {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[i] for i in ids]


def latest_slot(spec: JobSpec, now: datetime) -> datetime | None:
    """The trigger's latest fire time at or before ``now`` (within the look-back)."""
    slot = None
    moment = spec.trigger.get_next_fire_time(None, now - spec.lookback)
    while moment is not None and moment <= now:
        slot = moment
        moment = spec.trigger.get_next_fire_time(moment, moment + timedelta(microseconds=1))
    return slot.astimezone(UTC) if slot is not None else None


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def execute(
    spec: JobSpec,
    slot: datetime,
    trigger: str = "schedule",
    lease: Lease | None = None,
    wall: Callable[[], datetime] = system_now,
    **options: Any,
) -> JobRunRow | None:
    """Claim ``slot`` for the job and run it; the run (duration, changes, error) is recorded.

    Returns None when the slot was already claimed (a second scheduler tried
    it: counted in ``duplicates``) or this process no longer holds ``lease``.
    Must run inside an app context.
    """
    db = get_db()
    try:
        with db.write() as session:
            if lease is not None and not lease.fence(session):
                logger.warning("job %s slot %s: not the leader any more; skipped", spec.id, slot.isoformat())
                return None
            run = JobRunRow(
                job_id=spec.id,
                slot=slot,
                trigger=trigger,
                runner=runner_name(),
                pid=os.getpid(),
                started_at=wall(),
                changed=0,
                detail="",
                error="",
                duplicates=0,
            )
            session.add(run)
    except IntegrityError:
        with db.write() as session:
            session.execute(
                update(JobRunRow)
                .where(JobRunRow.job_id == spec.id, JobRunRow.slot == slot)
                .values(duplicates=JobRunRow.duplicates + 1)
            )
        logger.warning("job %s slot %s: already run by another scheduler", spec.id, slot.isoformat())
        return None
    began = time.perf_counter()
    result, error = jobs.JobResult(), ""
    try:
        result = spec.func(clock.now(), **options)
    except Exception as exc:  # recorded on the run and logged; the scheduler goes on
        logger.exception("job %s slot %s failed", spec.id, slot.isoformat())
        error = f"{type(exc).__name__}: {exc}"[:4000]
    with db.write() as session:
        run = session.get(JobRunRow, run.id)
        assert run is not None
        run.finished_at = wall()
        run.duration_ms = round((time.perf_counter() - began) * 1000)
        run.changed = result.changed
        run.detail = result.detail[:4000]
        run.error = error
    logger.info(
        "job %s slot %s: %s%s", spec.id, slot.isoformat(), result.detail, f"; error {error}" if error else ""
    )
    return run


class SchedulerService:
    """One process's part: an elector standing by, and the jobs while this process leads."""

    def __init__(
        self,
        app: Flask,
        wall: Callable[[], datetime] = system_now,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.wall = wall
        self.announce = announce or (lambda message: logger.info("scheduler %s: %s", runner_name(), message))
        self.specs = {s.id: s for s in job_specs(app.config)}
        ttl = float(app.config["SCHEDULER_LEASE_SECONDS"])
        poll = float(app.config["SCHEDULER_POLL_SECONDS"])
        with app.app_context():
            db = get_db()
        self.lease = make_lease(db, ttl, wall)
        renew = ttl / 3 if db.is_sqlite else poll
        self.elector = Elector(self.lease, self._lead, self._stand_down, poll=poll, renew=renew)
        self._scheduler: BackgroundScheduler | None = None
        self._lock = threading.Lock()
        self._job_locks = {i: threading.Lock() for i in self.specs}
        self._last_slot: dict[str, datetime] = {}
        """The latest slot this process ran per job: a catch-up and the trigger may fire for the same one."""

    def start(self) -> None:
        self.elector.start()

    def stop(self) -> None:
        self.elector.stop()

    @property
    def leading(self) -> bool:
        return self.elector.leading

    def _lead(self) -> None:
        """Start the jobs on their triggers, plus one catch-up run of each whose latest slot went unrun."""
        with self._lock:
            scheduler = BackgroundScheduler(
                timezone=ZoneInfo(self.app.config["TIMEZONE"]),
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            )
            for spec in self.specs.values():
                scheduler.add_job(
                    self._fire, spec.trigger, args=[spec.id, False], id=spec.id, replace_existing=True
                )
                scheduler.add_job(
                    self._fire,
                    DateTrigger(run_date=self.wall()),
                    args=[spec.id, True],
                    id=f"{spec.id}:catch-up",
                    replace_existing=True,
                )
            scheduler.start()
            self._scheduler = scheduler
        self.announce("leading")

    def _stand_down(self) -> None:
        with self._lock:
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
                self._scheduler = None
        self.announce("standing by")

    def _fire(self, job_id: str, catch_up: bool) -> None:
        spec = self.specs[job_id]
        now = self.wall()
        slot = latest_slot(spec, now)
        if slot is None or now - slot > spec.grace:
            return
        with self._job_locks[job_id], self.app.app_context():
            last = self._last_slot.get(job_id)
            if last is not None and slot <= last:
                return
            if catch_up:
                with get_db().read() as session:
                    done = session.scalar(
                        select(func.count()).where(JobRunRow.job_id == spec.id, JobRunRow.slot == slot)
                    )
                if done:
                    return
            self._last_slot[job_id] = slot
            execute(spec, slot, "catch-up" if catch_up else "schedule", self.lease, self.wall)

    def next_runs(self) -> dict[str, datetime | None]:
        """When each job fires next (computed from its trigger; the same in every process)."""
        now = self.wall()
        return {i: s.trigger.get_next_fire_time(None, now) for i, s in self.specs.items()}


def _serving() -> bool:
    """Whether this process serves requests: a WSGI server, or ``flask run`` (its reloaded child).

    Other ``flask`` commands (``db upgrade``, ``demo`` …) load the same app and
    must not start a scheduler.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return True  # gunicorn or any WSGI server importing create_app
    if ctx.command is not run_command:
        return False
    reload = ctx.params.get("reload")
    if reload is None:
        reload = get_debug_flag()
    return is_running_from_reloader() or not reload


def init_app(app: Flask) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)
    job_specs(app.config)  # a bad SCHEDULER_JOBS fails at start, naming the job
    if app.config["SCHEDULER_ENABLED"] and _serving():
        service = SchedulerService(app)
        app.extensions[EXTENSION] = service
        service.start()
        atexit.register(service.stop)


def status(config: Any, wall: Callable[[], datetime] = system_now) -> dict[str, Any]:
    """The scheduler's state for people: the lease, each job's last run and 24-hour counts, the outbox."""
    now = wall()
    ids = list(all_job_specs(config))
    with get_db().read() as session:
        lease = lease_holder(session)
        result: dict[str, Any] = {
            "now": now,
            "lease": None
            if lease is None
            else {
                "holder": lease.holder,
                "host": lease.host,
                "pid": lease.pid,
                "acquired_at": lease.acquired_at,
                "renewed_at": lease.renewed_at,
                "expires_at": lease.expires_at,
            },
            "jobs": [],
            "outbox": dict(
                session.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all()
            ),
        }
        since = now - timedelta(days=1)
        for job_id in ids:
            last = session.scalar(
                select(JobRunRow)
                .where(JobRunRow.job_id == job_id)
                .order_by(JobRunRow.started_at.desc())
                .limit(1)
            )
            runs, errors = session.execute(
                select(func.count(), func.count(JobRunRow.id).filter(JobRunRow.error != "")).where(
                    JobRunRow.job_id == job_id, JobRunRow.started_at >= since
                )
            ).one()
            last_error = session.scalar(
                select(JobRunRow.error)
                .where(JobRunRow.job_id == job_id, JobRunRow.error != "")
                .order_by(JobRunRow.started_at.desc())
                .limit(1)
            )
            result["jobs"].append(
                {
                    "id": job_id,
                    "last": None
                    if last is None
                    else {
                        "slot": last.slot,
                        "trigger": last.trigger,
                        "runner": last.runner,
                        "started_at": last.started_at,
                        "duration_ms": last.duration_ms,
                        "changed": last.changed,
                        "detail": last.detail,
                        "error": last.error,
                        "finished": last.finished_at is not None,
                    },
                    "runs_24h": runs,
                    "errors_24h": errors,
                    "last_error": last_error or "",
                }
            )
    return result
