"""Ticket numbers: branch code, local date, sequence; a taken number is renumbered, never overwritten."""

from __future__ import annotations

from datetime import date

import pytest

from complaints.ids import TicketNumber, next_free_number, next_ticket_id, parse_ticket_id, ticket_id


def test_ticket_ids_are_branch_date_and_sequence() -> None:
    day = date(2026, 3, 2)
    existing = [
        "SZ01-20260302-0001",
        "SZ01-20260302-0007",
        "sz01-20260302-0003",
        "SZ01-20260301-0042",
        "SZ02-20260302-0099",
        "junk",
    ]

    assert ticket_id("SZ01", day, 1) == "SZ01-20260302-0001"
    assert next_ticket_id("SZ01", day, existing) == "SZ01-20260302-0008"
    assert next_ticket_id("SZ01", date(2026, 3, 3), existing) == "SZ01-20260303-0001"
    with pytest.raises(ValueError):
        ticket_id("SZ 01", day, 1)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("SZ01-20260302-0007", TicketNumber("SZ01-20260302", 7, 4)),
        (" SZ-01-20260302-12345 ", TicketNumber("SZ-01-20260302", 12345, 5)),
        ("SZ01-2026032-0007", None),
        ("SZ01-20260302-", None),
        ("SZ01-20260302-００７", None),
        ("投诉一号", None),
    ],
)
def test_a_ticket_number_is_taken_apart_into_prefix_and_sequence(text, parts):
    assert parse_ticket_id(text) == parts


@pytest.mark.parametrize(
    ("number", "taken", "free"),
    [
        ("SZ01-20261125-0001", {"SZ01-20261125-0001"}, "SZ01-20261125-0002"),
        (
            "SZ01-20261125-0001",
            {"SZ01-20261125-0001", "SZ01-20261125-0009", "SZ01-20261124-0050"},
            "SZ01-20261125-0010",
        ),
        ("SZ01-20261125-01", {"SZ01-20261125-01", "SZ01-20261125-0003"}, "SZ01-20261125-04"),
        ("手工编号", {"手工编号"}, "手工编号-0001"),
        ("X-1", {"X-1", "X-1-0001"}, "X-1-0002"),
    ],
)
def test_a_taken_number_gets_the_next_free_one_with_the_same_prefix(number, taken, free):
    assert next_free_number(number, taken) == free
