"""The overview's figures for a period and a choice of branches, cached until the data changes.

Every figure — tiles, counts by status and level, unfinished and overdue by
branch and department, KPI tables, type distribution, root causes, trends —
comes from `server.services.analysis.analyse`, the data layer of the
consolidated workbook and the monthly analysis, so they all show the same
numbers (definitions: `complaints.figures`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from complaints.periods import Period
from server.services import analysis
from server.storage.models import BranchRow

TREND_MONTHS = 6


@dataclass(frozen=True)
class Overview:
    period: Period
    branches: tuple[str, ...]
    """The branches chosen (empty: all)."""
    analysis: analysis.Analysis
    views: dict[Hashable, dict[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    """What the page shows of it, per language (`overview.page_view`), kept with it in the cache."""


def data_version(session: Session) -> tuple[int, int]:
    """How many changes so far: every write to a ticket, task, log or conflict takes a change number."""
    total, branches = session.execute(
        select(func.coalesce(func.sum(BranchRow.change_seq), 0), func.count())
    ).one()
    return int(total), int(branches)


class FiguresCache:
    """The last few overviews, each valid until the data changes (see `data_version`)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Overview] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable) -> Overview | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Hashable, value: Overview) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def cached_overview(
    cache: FiguresCache, session: Session, period: Period, branches: list[str], calendar_path: str | None
) -> Overview:
    """`overview`, computed again only when the data, the period or the branches differ."""
    key = (period, tuple(sorted(branches)), calendar_path, data_version(session))
    found = cache.get(key)
    if found is None:
        found = overview(session, period, branches, calendar_path)
        cache.put(key, found)
    return found


def overview(session: Session, period: Period, branches: list[str], calendar_path: str | None) -> Overview:
    """Every figure of the overview page for ``period`` and ``branches`` (empty: all)."""
    return Overview(
        period=period,
        branches=tuple(branches),
        analysis=analysis.analyse(
            session, branches or None, period, calendar_path=calendar_path, trend_months=TREND_MONTHS
        ),
    )
