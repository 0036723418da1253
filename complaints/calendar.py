"""The working-day calendar: mainland China's State Council schedule, with operator overrides.

`chinesecalendar` knows the statutory holidays and the weekend make-up working
days (调休) for the years it ships. Operators extend it with dated entries and
a "year published" switch, so next year's schedule can be loaded before the
library knows it; Hong Kong and Macau branches use operator lists only. A day
in a year nobody has published raises `CalendarPendingError` — never a guess.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path

import chinese_calendar

LIBRARY_SOURCE = f"chinesecalendar {chinese_calendar.__version__}"


class CalendarPendingError(LookupError):
    """The working-day status of a date is unknown: its year's schedule is not published."""

    def __init__(self, day: date, region: str) -> None:
        self.day = day
        self.year = day.year
        self.region = region
        super().__init__(
            f"no published {region} holiday schedule for {day.year} (needed for {day.isoformat()}); "
            f"load the schedule with dated entries and mark {day.year} as published"
        )


class DayKind(StrEnum):
    HOLIDAY = "holiday"
    WORKDAY = "workday"


class Region(StrEnum):
    MAINLAND = "CN"
    HONG_KONG = "HK"
    MACAU = "MO"


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """An operator's dated override: a holiday or a make-up working day, with its source."""

    day: date
    kind: DayKind
    name: str = ""
    source: str = ""
    region: Region = Region.MAINLAND


@dataclass(frozen=True, slots=True)
class YearStatus:
    year: int
    source: str


class WorkCalendar:
    """Answers "is this a working day?" and counts working days for one region."""

    def __init__(
        self,
        entries: Iterable[CalendarEntry] = (),
        published: Iterable[int] = (),
        region: Region = Region.MAINLAND,
    ) -> None:
        self.region = Region(region)
        self.entries = tuple(e for e in entries if e.region == self.region)
        self._override = {e.day: e.kind for e in self.entries}
        self.published = frozenset(published)
        self._day_cache: dict[date, bool] = {}
        self._add_cache: dict[tuple[date, int], date] = {}

    def library_years(self) -> range:
        """Years the bundled library knows (mainland only)."""
        if self.region is not Region.MAINLAND:
            return range(0)
        years = {d.year for d in chinese_calendar.holidays}
        return range(min(years), max(years) + 1)

    def known_years(self) -> list[YearStatus]:
        """Every year this calendar can answer for, with where its schedule came from."""
        sources: dict[int, str] = {y: LIBRARY_SOURCE for y in self.library_years()}
        for year in self.published:
            operator = sorted({e.source for e in self.entries if e.day.year == year and e.source})
            label = "operator" + (f" ({'; '.join(operator)})" if operator else "")
            sources[year] = label if year not in sources else f"{sources[year]} + {label}"
        return [YearStatus(y, s) for y, s in sorted(sources.items())]

    def is_known(self, year: int) -> bool:
        return year in self.published or year in self.library_years()

    def is_workday(self, day: date) -> bool:
        """Return whether ``day`` is a working day; raise `CalendarPendingError` if unknown."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        result = self._lookup(day)
        self._day_cache[day] = result
        return result

    def _lookup(self, day: date) -> bool:
        if day in self._override:
            return self._override[day] is DayKind.WORKDAY
        if day.year in self.published:
            return day.weekday() < 5
        if self.region is Region.MAINLAND:
            try:
                return chinese_calendar.is_workday(day)
            except NotImplementedError:
                pass
        raise CalendarPendingError(day, self.region.value)

    def add_workdays(self, start: date, n: int) -> date:
        """Return the ``n``-th working day after ``start`` (``start`` itself never counts)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        key = (start, n)
        cached = self._add_cache.get(key)
        if cached is not None:
            return cached
        day, counted = start, 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        self._add_cache[key] = day
        return day

    def workdays_between(self, start: date, end: date) -> int:
        """Count working days after ``start`` up to and including ``end`` (0 if end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_workday(day):
                count += 1
        return count

    def missing_next_year(self, today: date) -> int | None:
        """From 1 November on, return next year if its schedule is not loaded yet."""
        if today.month < 11:
            return None
        nxt = today.year + 1
        return None if self.is_known(nxt) else nxt


def load_calendar(path: str | Path | None, region: Region = Region.MAINLAND) -> WorkCalendar:
    """Build a calendar from an operator's JSON override file (or none).

    The file holds ``{"published": {"CN": [2027]}, "entries": [{"date": "2027-01-01",
    "kind": "holiday", "name": "元旦", "source": "国办发明电…", "region": "CN"}]}``.
    """
    if path is None:
        return WorkCalendar(region=region)
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{where}: cannot read calendar overrides: {exc}") from exc
    entries = []
    for i, raw in enumerate(data.get("entries", []), start=1):
        try:
            entries.append(
                CalendarEntry(
                    day=date.fromisoformat(raw["date"]),
                    kind=DayKind(raw["kind"]),
                    name=raw.get("name", ""),
                    source=raw.get("source", ""),
                    region=Region(raw.get("region", "CN")),
                )
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{where}: entry {i} is invalid ({exc}): {raw!r}") from exc
    published = data.get("published", {}).get(Region(region).value, [])
    return WorkCalendar(entries, published=[int(y) for y in published], region=region)
