"""Workbooks kept for download: the monthly analysis, made by the scheduler on the 1st.

The monthly analysis is head office's consolidated workbook for last month
(`server.services.consolidated`: the month's tickets, KPIs by branch and
department, and the monthly analysis with charts, all from `server.services.analysis`).
It is streamed to a file and kept in the evidence store (`server.storage.evidence`),
named in ``reports`` by its sha256, so every host of a multi-host deployment serves
it from the admin page and no process holds the whole workbook (~420 MB at a
million tickets) in memory. Workbooks kept before 0019_reportfiles are still
served from ``reports.content``.
"""

from __future__ import annotations

import io
import os
import secrets
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.periods import Period
from server.files import private_open
from server.services.consolidated import ConsolidateOptions, build_consolidated
from server.storage.db import Database
from server.storage.evidence import EvidenceStore
from server.storage.models import ReportRow

MONTHLY = "monthly"


def previous_month(now: datetime, tz: str) -> tuple[Period, str]:
    """The calendar month before ``now``'s local month, and its label (``2026-10``)."""
    local = now.astimezone(ZoneInfo(tz)).date()
    first = date(local.year - 1, 12, 1) if local.month == 1 else date(local.year, local.month - 1, 1)
    return Period.month(first.year, first.month), f"{first:%Y-%m}"


def build_monthly_workbook(
    db: Database,
    period: Period,
    now: datetime,
    tz: str,
    calendar_path: str | None,
    lang: str,
    target: Path,
    workers: int | None = None,
) -> int:
    """Write the consolidated workbook of every branch over ``period`` to the file ``target``; its size.

    ``tz`` is where its generation time is shown; each branch's tickets count by its own local days.
    ``workers``: worker processes for the ticket sheets, as the consolidated export (None: automatic).
    """
    options = ConsolidateOptions(
        branches=None,
        period=period,
        lang=lang,
        generated_at=now,
        timezone=tz,
        calendar_path=calendar_path,
        workers=workers,
    )
    with private_open(target) as out:
        build_consolidated(db, out, options)
    return target.stat().st_size


def scratch_path(folder: Path) -> Path:
    """A fresh file name in ``folder`` (the store's own, so keeping the file is a rename)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder / f".report-{os.getpid()}-{secrets.token_hex(4)}.part"


def is_kept(session: Session, kind: str, period: str) -> bool:
    query = select(ReportRow.id).where(ReportRow.kind == kind, ReportRow.period == period)
    return session.scalar(query) is not None


def keep(session: Session, kind: str, period: str, filename: str, sha256: str, now: datetime) -> ReportRow:
    """Name a workbook kept in the store (under ``sha256``) for download."""
    row = ReportRow(kind=kind, period=period, filename=filename, sha256=sha256, created_at=now)
    session.add(row)
    session.flush()
    return row


def open_kept(row: ReportRow, store: EvidenceStore) -> BinaryIO:
    """A kept workbook's content, read from the store (or from the row, if kept before the store)."""
    if row.sha256 is not None:
        return store.open(row.sha256)
    return io.BytesIO(row.content or b"")
