"""The scheduler's jobs: plain functions of ``now`` that run inside an app context (DESIGN §6).

Each is idempotent: run twice for the same ``now`` it changes nothing more and
queues no second notice (notices carry dedupe keys; reports are kept once per
period). `server.scheduling.scheduler` runs them on their triggers and records every run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from server import throttle
from server.scheduling.digest import enqueue_digests, enqueue_overdue_reminders, per_branch
from server.scheduling.scan import scan_flags
from server.services import idempotency
from server.services.notices import Notice, enqueue, render, send_pending
from server.services.reports import (
    MONTHLY,
    build_monthly_workbook,
    is_kept,
    keep,
    previous_month,
    scratch_path,
)
from server.storage import backup, search
from server.storage.db import get_db
from server.storage.evidence import evidence_folder, evidence_store
from server.storage.models import UserRow
from server.storage.rows import clock_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """What a run did: ``changed`` counts tickets written (or notices, reports), ``detail`` says more."""

    changed: int = 0
    detail: str = ""


def flag_scan(now: datetime, full: bool = False) -> JobResult:
    """Bring flags, levels and revisit windows up to date; notify heads of new yellow/red tickets; catch
    the search index up."""
    report = scan_flags(now, full=full)
    indexed = search.bring_up_to_date(get_db())  # so a search seldom waits for the index
    return JobResult(report.written, f"{report.describe()}; {indexed} indexed for search")


def outbox(now: datetime) -> JobResult:
    """Send the notices that are due; those the server cannot take wait, those never sendable are failed."""
    report = send_pending(now)
    detail = f"{report.sent} sent, {report.deferred} deferred, {report.failed} refused"
    return JobResult(report.sent, f"{detail}; {report.error}" if report.error else detail)


def daily_digest(now: datetime) -> JobResult:
    """Queue each branch coordinator's and department head's digest of the day."""
    queued = 0
    with get_db().write() as session:
        for branch in per_branch(session):
            queued += enqueue_digests(session, branch, now)
    return JobResult(queued, f"{queued} digests queued")


def overdue_reminders(now: datetime) -> JobResult:
    """Remind heads, once a day, of yellow and red tickets that stay overdue."""
    queued = 0
    with get_db().write() as session:
        for branch in per_branch(session):
            queued += enqueue_overdue_reminders(session, branch, now)
    return JobResult(queued, f"{queued} reminders queued")


def monthly_analysis(now: datetime) -> JobResult:
    """Build last month's analysis (the consolidated workbook) and keep it for download, once a month.

    Built as the consolidated export is (worker processes for a large month, ``CONSOLIDATE_WORKERS``),
    streamed to a file in the evidence store: the workbook is never held whole in memory.
    """
    config = current_app.config
    tz = config["TIMEZONE"]
    period, label = previous_month(now, tz)
    db = get_db()
    with db.read() as session:
        if is_kept(session, MONTHLY, label):
            return JobResult(0, f"analysis {label} already kept")
    scratch = scratch_path(evidence_folder())
    try:
        size = build_monthly_workbook(
            db,
            period,
            now,
            tz,
            config.get("CALENDAR_FILE"),
            config["NOTIFY_LANGUAGE"],
            scratch,
            workers=config.get("CONSOLIDATE_WORKERS"),
        )
        sha256 = evidence_store().put_file(scratch)
    finally:
        scratch.unlink(missing_ok=True)
    with db.write() as session:
        if is_kept(session, MONTHLY, label):  # a manual run kept it meanwhile
            return JobResult(0, f"analysis {label} already kept")
        keep(session, MONTHLY, label, f"complaints-analysis-{label}.xlsx", sha256, now)
    return JobResult(1, f"analysis {label} kept ({size:,} bytes)")


def daily_backup(now: datetime) -> JobResult:
    """Back the database up into ``BACKUP_DIR`` and keep the newest ``BACKUP_KEEP`` of those backups."""
    config = current_app.config
    directory = Path(config["BACKUP_DIR"] or Path(current_app.instance_path) / "backups")
    db = get_db()
    name = backup.dated_name(now, backup.kind_of(db))
    made = backup.backup(db, directory / name, replace=True, evidence=evidence_folder())
    keep = int(config["BACKUP_KEEP"])
    deleted = backup.prune(directory, keep)
    return JobResult(
        1,
        f"{made.path.name} ({made.size:,} bytes, {made.seconds:.1f} s, "
        f"{made.evidence_copied} new evidence files); "
        f"{len(deleted)} older deleted, newest {keep} kept in {directory}",
    )


def calendar_reminder(now: datetime) -> JobResult:
    """From 1 November, remind administrators weekly while next year's holidays are not loaded."""
    tz = current_app.config["TIMEZONE"]
    today = now.astimezone(ZoneInfo(tz)).date()
    calendar = clock_for(tz, current_app.config.get("CALENDAR_FILE")).calendar
    year = calendar.missing_next_year(today)
    if year is None:
        return JobResult(0, "next year's holiday calendar is known")
    logger.warning("holiday calendar for %s is not loaded: deadlines in %s are pending", year, year)
    lang = current_app.config["NOTIFY_LANGUAGE"]
    week = "{}-W{:02d}".format(*today.isocalendar()[:2])
    queued = 0
    with get_db().write() as session:
        admins = session.scalars(select(UserRow).where(UserRow.role == "admin", UserRow.active)).all()
        recipients = [(u.display_name or u.username, u.email) for u in admins if u.email] or [("", "")]
        subject, body = render("calendar", lang, year=year, today=today.isoformat())
        for name, address in recipients:
            notice = Notice(
                "calendar", f"calendar:{year}:{week}:{address or '-'}", name, address, lang, subject, body
            )
            queued += enqueue(session, notice, now)
    return JobResult(queued, f"calendar {year} missing; {queued} reminders queued")


def purge(now: datetime) -> JobResult:
    """Delete what is kept only for a while: idempotency keys past their time, ended sign-in windows."""
    keep = float(current_app.config["IDEMPOTENCY_KEEP_HOURS"])
    with get_db().write() as session:
        keys = idempotency.purge(session, now, keep)
        windows = throttle.purge(session, now)
    return JobResult(keys + windows, f"{keys} idempotency keys, {windows} sign-in windows deleted")


def heartbeat(now: datetime) -> JobResult:
    """Do nothing: its runs show on the admin page that the scheduler is alive (and test leadership)."""
    return JobResult(0, "alive")
