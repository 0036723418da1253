"""Periods of the head-office analysis: local months and dates, trend windows."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from server.services.analysis import Period, date_period, month_period, months_of

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_month_runs_from_local_midnight_of_the_first_to_that_of_the_next_month() -> None:
    december = month_period(2026, 12)
    assert december.start == datetime(2026, 12, 1, tzinfo=SHANGHAI)
    assert december.end == datetime(2027, 1, 1, tzinfo=SHANGHAI)


def test_dates_make_a_period_that_excludes_its_end_day() -> None:
    assert date_period(date(2026, 11, 1), date(2026, 12, 1)) == month_period(2026, 11)


def test_trend_months_cover_the_period_and_reach_back_to_the_window() -> None:
    months = months_of(month_period(2026, 2), "Asia/Shanghai", at_least=3)
    assert [f"{m.start:%Y-%m}" for m in months] == ["2025-12", "2026-01", "2026-02"]
    spanning = months_of(date_period(date(2026, 3, 15), date(2026, 6, 2)), "Asia/Shanghai")
    assert [f"{m.start:%Y-%m}" for m in spanning] == ["2026-03", "2026-04", "2026-05", "2026-06"]


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [
        (datetime(2026, 11, 1), datetime(2026, 12, 1, tzinfo=SHANGHAI), "no time zone"),
        (datetime(2026, 12, 1, tzinfo=SHANGHAI), datetime(2026, 11, 1, tzinfo=SHANGHAI), "not before"),
    ],
)
def test_a_period_without_zone_or_backwards_is_refused_with_the_reason(
    start: datetime, end: datetime, problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        Period(start, end)
