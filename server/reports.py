"""Workbooks kept for download: the monthly analysis, made by the scheduler on the 1st.

The figures come from `server.analysis.analyse` (the same data layer as the
dashboard and head office's consolidated workbook): KPIs overall, by branch
and by department, the type distribution and the root causes with their
improvement. The workbook is kept as bytes in ``reports`` so every host of a
multi-host deployment serves it from the admin page.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import Category
from complaints.kpis import Kpis, Value
from server.analysis import Analysis, Period, analyse, month_period
from server.models import ReportRow

MONTHLY = "monthly"


def previous_month(now: datetime, tz: str) -> tuple[Period, str]:
    """The calendar month before ``now``'s local month, and its label (``2026-10``)."""
    local = now.astimezone(ZoneInfo(tz)).date()
    first = date(local.year - 1, 12, 1) if local.month == 1 else date(local.year, local.month - 1, 1)
    return month_period(first.year, first.month, tz), f"{first:%Y-%m}"


def build_monthly_workbook(session: Session, period: Period, tz: str, calendar_path: str | None) -> bytes:
    """The analysis of every branch over ``period`` as an .xlsx (labels in Chinese and English)."""
    analysis = analyse(session, None, period, timezone=tz, calendar_path=calendar_path)
    book = Workbook(write_only=True)
    _kpi_sheet(book, "总体 Overall", {"全部 / All": analysis.kpis.overall})
    _kpi_sheet(book, "分支机构 Branches", analysis.kpis.by_branch)
    _kpi_sheet(
        book,
        "部门 Departments",
        {k or "未分派 / Unrouted": v for k, v in analysis.kpis.by_department.items()},
    )
    _types_sheet(book, analysis)
    _causes_sheet(book, analysis)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _kpi_sheet(book: Workbook, title: str, groups: dict[str, Kpis]) -> None:
    """One column per group; rows by label (groups list different departments' improvement rates)."""
    sheet = book.create_sheet(title)
    sheet.append(["指标", "KPI", *groups])
    english: dict[str, str] = {}
    columns: list[dict[str, Value]] = []
    for kpis in groups.values():
        column: dict[str, Value] = {}
        for (zh, value), (en, _) in zip(kpis.as_rows("zh"), kpis.as_rows("en"), strict=True):
            english.setdefault(zh, en)
            column[zh] = value
        columns.append(column)
    for zh, en in english.items():
        sheet.append([zh, en, *[column.get(zh) for column in columns]])


def _types_sheet(book: Workbook, analysis: Analysis) -> None:
    sheet = book.create_sheet("类型分布 Types")
    codes = list(analysis.types_by_branch)
    sheet.append(["类别", "Category", "合计 / Total", *codes])
    for category in Category:
        sheet.append(
            [
                category.zh,
                category.en,
                analysis.types.get(category, 0),
                *[analysis.types_by_branch[c].get(category, 0) for c in codes],
            ]
        )


def _causes_sheet(book: Workbook, analysis: Analysis) -> None:
    sheet = book.create_sheet("根本原因 Root causes")
    sheet.append(
        [
            "根本原因 / Root cause",
            "投诉单 / Tickets",
            "改进已落实率 / Improvement done",
            "改进措施 / Measures",
        ]
    )
    for cause in analysis.root_causes:
        measures = "；".join(f"{text} ({n})" for text, n in cause.measures)
        sheet.append([cause.cause, cause.tickets, cause.improvement.rate, measures])


def is_kept(session: Session, kind: str, period: str) -> bool:
    query = select(ReportRow.id).where(ReportRow.kind == kind, ReportRow.period == period)
    return session.scalar(query) is not None


def keep(session: Session, kind: str, period: str, filename: str, content: bytes, now: datetime) -> ReportRow:
    """Store a workbook for download."""
    row = ReportRow(kind=kind, period=period, filename=filename, content=content, created_at=now)
    session.add(row)
    session.flush()
    return row
