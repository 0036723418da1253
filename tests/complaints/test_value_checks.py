"""The one validation policy: a row's values refused or passed, whichever way the check runs.

`check_values` sweeps a row at once and checks value by value only when the sweep
cannot vouch for it; the property below holds it to the value-by-value answer on
generated rows mixing good and bad values of every column type.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from complaints.schema import ColType
from complaints.validation import MAX_INT, check_value, check_values
from complaints.wire import COLUMNS, TASK_COLUMNS

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
EVERY = {**TASK_COLUMNS, **COLUMNS}
"""Ticket and task columns: every column type the checks know."""

_texts = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        ["SZ01-20261204-0001", "正常文本", "bad\ud800half", "tab\tin id", "\ufeff前缀", "x" * 5000]
    ),
)
_moments = st.one_of(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(3100, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(
        [NOW, NOW + timedelta(minutes=14), NOW + timedelta(minutes=16), NOW + timedelta(days=400)]
    ),
)
_dates = st.dates(min_value=date(1990, 1, 1), max_value=date(3100, 1, 1))
_ints = st.one_of(st.integers(min_value=-5, max_value=20), st.sampled_from([MAX_INT, MAX_INT + 1]))


def _value(kind: ColType) -> st.SearchStrategy[object]:
    if kind is ColType.TEXT:
        return _texts
    if kind is ColType.DATETIME:
        return _moments
    if kind is ColType.DATE:
        return _dates
    if kind is ColType.INT:
        return _ints
    return st.none()


@st.composite
def _rows(draw: st.DrawFn) -> dict[str, object]:
    keys = draw(st.lists(st.sampled_from(sorted(EVERY)), unique=True, max_size=25))
    return {key: draw(st.one_of(st.none(), _value(EVERY[key].type))) for key in keys}


@settings(max_examples=400, deadline=None)
@given(_rows())
def test_a_row_is_refused_exactly_when_one_of_its_values_is(row: dict[str, object]) -> None:
    one_by_one = [p for key, v in row.items() if (p := check_value(key, v, EVERY[key], NOW)) is not None]
    assert check_values(row, EVERY, NOW) == one_by_one


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("ticket_id", "SZ01\t0001", "control character"),
        ("description", "断线\ud800", "U+D800"),
        ("resolved_at", NOW + timedelta(hours=1), "in the future"),
        ("received_at", datetime(1999, 12, 31, tzinfo=UTC), "check the year"),
        ("due", date(3001, 1, 1), "check the year"),
        ("objection_count", MAX_INT + 1, "out of range"),
        ("description", "x" * 32_768, "longer than an Excel cell"),
    ],
)
def test_one_bad_value_in_a_plain_row_is_named(field: str, value: object, said: str) -> None:
    row = {"ticket_id": "SZ01-20261204-0001", "description": "晚上断线", "received_at": NOW, field: value}
    found = check_values(row, EVERY, NOW)
    assert [p.field for p in found] == [field]
    assert said in found[0].en
