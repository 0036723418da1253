"""Periods: whole local days, shown with their last day, placed in each branch's time zone."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from complaints.periods import Period


def test_a_period_is_shown_with_its_last_day_included():
    assert Period(date(2026, 12, 1), date(2026, 12, 5)).label() == "2026-12-01 – 2026-12-04"
    assert Period.days(date(2026, 12, 1), date(2026, 12, 4)) == Period(date(2026, 12, 1), date(2026, 12, 5))
    assert Period.days(date(2026, 12, 1), date(2026, 12, 1)).label() == "2026-12-01 – 2026-12-01"


def test_a_month_runs_to_the_first_of_the_next_month():
    assert Period.month(2026, 12) == Period(date(2026, 12, 1), date(2027, 1, 1))
    assert Period.month(2026, 2).last == date(2026, 2, 28)


def test_the_same_days_begin_at_each_zones_own_midnight():
    november = Period.month(2026, 11)
    shanghai, london = november.bounds("Asia/Shanghai"), november.bounds("Europe/London")
    assert shanghai[0] == datetime(2026, 11, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert london[1] == datetime(2026, 12, 1, tzinfo=ZoneInfo("Europe/London"))
    assert london[0] - shanghai[0] == timedelta(hours=8)  # London keeps GMT in November


def test_trend_months_cover_the_period_and_reach_back_to_the_window():
    months = Period.month(2026, 2).months(at_least=3)
    assert [m.key() for m in months] == ["2025-12", "2026-01", "2026-02"]
    spanning = Period(date(2026, 3, 15), date(2026, 6, 2)).months()
    assert [m.key() for m in spanning] == ["2026-03", "2026-04", "2026-05", "2026-06"]


@pytest.mark.parametrize(
    ("first", "end", "words"),
    [
        (date(2026, 12, 1), date(2026, 12, 1), "not before"),
        (date(2026, 12, 2), date(2026, 12, 1), "not before"),
        (date(1999, 12, 31), date(2000, 2, 1), "outside"),
        (date(2099, 12, 1), date(2100, 1, 2), "outside"),
    ],
)
def test_a_chosen_period_must_be_forwards_and_within_the_supported_years(first, end, words):
    with pytest.raises(ValueError, match=words):
        Period.chosen(first, end)
