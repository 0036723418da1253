from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from complaints.calendar import (
    CalendarEntry,
    CalendarPendingError,
    DayKind,
    Region,
    WorkCalendar,
    load_calendar,
)

CN = WorkCalendar()

HOLIDAYS_2026 = [
    date(2026, 1, 1),
    date(2026, 1, 2),
    *[date(2026, 2, d) for d in range(15, 24)],  # Spring Festival
    *[date(2026, 4, d) for d in (4, 5, 6)],  # Qingming
    *[date(2026, 5, d) for d in range(1, 6)],  # Labour Day
    *[date(2026, 10, d) for d in range(1, 8)],  # National Day (with Mid-autumn)
]
MAKE_UP_WORKDAYS_2026 = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]


@pytest.mark.parametrize("day", HOLIDAYS_2026, ids=str)
def test_statutory_holidays_of_2026_are_not_working_days(day):
    assert not CN.is_workday(day)


@pytest.mark.parametrize("day", MAKE_UP_WORKDAYS_2026, ids=str)
def test_weekend_make_up_days_of_2026_are_working_days(day):
    assert day.weekday() >= 5
    assert CN.is_workday(day)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 3, 2), 1, date(2026, 3, 3)),  # Monday → Tuesday
        (date(2026, 3, 6), 1, date(2026, 3, 9)),  # Friday → Monday
        (date(2026, 2, 13), 1, date(2026, 2, 14)),  # Friday → make-up Saturday
        (date(2026, 2, 14), 1, date(2026, 2, 24)),  # across the Spring Festival
        (date(2026, 4, 3), 1, date(2026, 4, 7)),  # across Qingming
        (date(2026, 4, 30), 3, date(2026, 5, 8)),  # across Labour Day
        (date(2026, 5, 6), 3, date(2026, 5, 9)),  # lands on the make-up Saturday
        (date(2026, 9, 30), 1, date(2026, 10, 8)),  # across National Day
        (date(2026, 9, 30), 3, date(2026, 10, 10)),  # National Day, then the make-up Saturday
        (date(2025, 12, 31), 1, date(2026, 1, 4)),  # New Year, then the make-up Sunday
        (date(2026, 9, 18), 1, date(2026, 9, 20)),  # Friday → make-up Sunday
    ],
)
def test_add_workdays_follows_the_state_council_schedule(start, n, expected):
    assert CN.add_workdays(start, n) == expected


def test_a_year_nobody_published_raises_pending():
    with pytest.raises(CalendarPendingError) as err:
        CN.add_workdays(date(2026, 12, 30), 3)
    assert err.value.year == 2027
    assert "2027" in str(err.value)


def test_operator_can_publish_next_year_with_dated_entries():
    calendar = WorkCalendar(
        [CalendarEntry(date(2027, 1, 1), DayKind.HOLIDAY, "元旦", "国办发明电〔2026〕")],
        published=[2027],
    )
    assert calendar.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert [s.year for s in calendar.known_years()][-1] == 2027
    assert "国办发明电" in calendar.known_years()[-1].source


def test_operator_entry_overrides_the_library():
    calendar = WorkCalendar([CalendarEntry(date(2026, 3, 3), DayKind.HOLIDAY, "台风停工", "市政府通知")])
    assert not calendar.is_workday(date(2026, 3, 3))
    assert calendar.add_workdays(date(2026, 3, 2), 1) == date(2026, 3, 4)


def test_hong_kong_uses_operator_lists_only():
    hk = WorkCalendar(
        [CalendarEntry(date(2026, 7, 1), DayKind.HOLIDAY, "回归纪念日", "HK gazette", Region.HONG_KONG)],
        published=[2026],
        region=Region.HONG_KONG,
    )
    assert not hk.is_workday(date(2026, 7, 1))
    assert hk.is_workday(date(2026, 10, 2))  # a mainland National Day holiday, not one in Hong Kong
    with pytest.raises(CalendarPendingError):
        hk.is_workday(date(2025, 7, 1))


def test_next_year_missing_is_reported_from_first_of_november():
    assert CN.missing_next_year(date(2026, 10, 31)) is None
    assert CN.missing_next_year(date(2026, 11, 1)) == 2027
    published = WorkCalendar(published=[2027])
    assert published.missing_next_year(date(2026, 11, 29)) is None


def test_calendar_file_loads_entries_and_published_years(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text(
        '{"published": {"CN": [2027]},'
        ' "entries": [{"date": "2027-01-01", "kind": "holiday", "source": "x"}]}',
        encoding="utf-8",
    )
    calendar = load_calendar(path)
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.is_workday(date(2027, 1, 4))


def test_calendar_file_with_a_bad_entry_names_the_entry(tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text('{"entries": [{"date": "2027-02-30", "kind": "holiday"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1"):
        load_calendar(path)


known_days = st.dates(min_value=date(2005, 1, 1), max_value=date(2026, 11, 30))


@given(start=known_days, n=st.integers(min_value=1, max_value=20))
def test_adding_workdays_moves_forward_onto_a_working_day(start, n):
    result = CN.add_workdays(start, n)
    assert result > start
    assert CN.is_workday(result)
    assert CN.workdays_between(start, result) == n


@given(start=known_days, n=st.integers(min_value=1, max_value=15))
def test_more_workdays_never_go_backwards(start, n):
    assert CN.add_workdays(start, n + 1) > CN.add_workdays(start, n)
