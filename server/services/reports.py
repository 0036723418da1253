"""Workbooks kept for download: the monthly analysis, made by the scheduler on the 1st.

The monthly analysis is head office's consolidated workbook for last month
(`server.services.consolidated`: the month's tickets, KPIs by branch and
department, and the monthly analysis with charts, all from `server.services.analysis`),
kept as bytes in ``reports`` so every host of a multi-host deployment serves
it from the admin page.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.periods import Period
from server.services.consolidated import ConsolidateOptions, build_consolidated
from server.storage.db import Database
from server.storage.models import ReportRow

MONTHLY = "monthly"


def previous_month(now: datetime, tz: str) -> tuple[Period, str]:
    """The calendar month before ``now``'s local month, and its label (``2026-10``)."""
    local = now.astimezone(ZoneInfo(tz)).date()
    first = date(local.year - 1, 12, 1) if local.month == 1 else date(local.year, local.month - 1, 1)
    return Period.month(first.year, first.month), f"{first:%Y-%m}"


def build_monthly_workbook(
    db: Database, period: Period, now: datetime, tz: str, calendar_path: str | None, lang: str
) -> bytes:
    """The consolidated workbook of every branch over ``period``, built in this process (no worker pool).

    ``tz`` is where its generation time is shown; each branch's tickets count by its own local days.
    """
    options = ConsolidateOptions(
        branches=None,
        period=period,
        lang=lang,
        generated_at=now,
        timezone=tz,
        calendar_path=calendar_path,
        workers=0,
    )
    out = io.BytesIO()
    build_consolidated(db, out, options)
    return out.getvalue()


def is_kept(session: Session, kind: str, period: str) -> bool:
    query = select(ReportRow.id).where(ReportRow.kind == kind, ReportRow.period == period)
    return session.scalar(query) is not None


def keep(session: Session, kind: str, period: str, filename: str, content: bytes, now: datetime) -> ReportRow:
    """Store a workbook for download."""
    row = ReportRow(kind=kind, period=period, filename=filename, content=content, created_at=now)
    session.add(row)
    session.flush()
    return row
