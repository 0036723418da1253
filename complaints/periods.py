"""Periods of the head-office figures: whole local days, placed in each branch's own time zone.

A `Period` is a run of calendar days, ``first`` up to ``end`` (excluded). It
has no time zone of its own: a ticket of a branch in Shanghai counts in
[2026-12-01, 2026-12-05) when its moment falls between midnight of 1 December
and midnight of 5 December *Shanghai* time, one of a branch in London between
the London midnights. So a figure over several branches is the sum of the
branches' figures, whatever their zones.

People see the inclusive last day, in either language:
``Period(date(2026, 12, 1), date(2026, 12, 5)).label()`` is
``"2026-12-01 – 2026-12-04"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 1, 1)
"""Chosen periods lie within [FIRST_DAY, LAST_DAY]: centuries take minutes to build, year 9999 overflows."""


@dataclass(frozen=True, slots=True)
class Period:
    """The local days ``first`` to ``end`` (excluded); see the module docstring."""

    first: date
    end: date

    def __post_init__(self) -> None:
        if isinstance(self.first, datetime) or isinstance(self.end, datetime):
            raise TypeError(f"a period is whole days: give dates, not {self.first!r} and {self.end!r}")
        if not self.first < self.end:
            raise ValueError(f"period start {self.first} is not before its end {self.end} (end is excluded)")

    @classmethod
    def days(cls, first: date, last: date) -> Period:
        """The days ``first`` to ``last``, both included (what a date form asks for)."""
        return cls(first, last + timedelta(days=1))

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """The calendar month ``year-month``."""
        return cls(date(year, month, 1), date(year + month // 12, month % 12 + 1, 1))

    @classmethod
    def chosen(cls, first: date, end: date) -> Period:
        """A period asked for: ``first`` to ``end`` (excluded); refused outside FIRST_DAY–LAST_DAY."""
        if first < FIRST_DAY or end > LAST_DAY:
            raise ValueError(
                f"the period {first}–{end} is outside {FIRST_DAY}–{LAST_DAY} / "
                f"期间须在 {FIRST_DAY} 至 {LAST_DAY} 之间"
            )
        return cls(first, end)

    @property
    def last(self) -> date:
        """The last day of the period (included)."""
        return self.end - timedelta(days=1)

    def label(self) -> str:
        """How the period is shown everywhere, in Chinese and English: first – last day, both included."""
        return f"{self.first.isoformat()} – {self.last.isoformat()}"

    def bounds(self, zone: str) -> tuple[datetime, datetime]:
        """The period in time zone ``zone``: from local midnight of ``first`` to that of ``end``."""
        return _bounds(self.first, self.end, zone)

    def months(self, at_least: int = 1) -> list[Period]:
        """Calendar months overlapping the period, oldest first, extended back to ``at_least`` months."""
        year, month = self.last.year, self.last.month
        found: list[Period] = []
        while True:
            found.append(Period.month(year, month))
            if found[-1].first <= self.first and len(found) >= at_least:
                return found[::-1]
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)

    def key(self) -> str:
        """``YYYY-MM`` of a calendar month (the label of a trend month)."""
        return f"{self.first:%Y-%m}"


def midnight(day: date, zone: str) -> datetime:
    """The start of ``day`` in time zone ``zone``."""
    return datetime.combine(day, time(), ZoneInfo(zone))


@lru_cache(maxsize=1024)
def _bounds(first: date, end: date, zone: str) -> tuple[datetime, datetime]:
    return midnight(first, zone), midnight(end, zone)
