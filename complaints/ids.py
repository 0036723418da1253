"""Visible ticket numbers: branch code + local date + sequence, e.g. SZ01-20260302-0001.

The number is for people; the sync key identifies a row. Numbers are parsed
here only: the add-in's New ticket button takes the next one of the day, and
the server renumbers a ticket whose number another copy of the workbook
already gave (`next_free_number`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

TICKET_NUMBER = re.compile(r"^(?P<prefix>.+-[0-9]{8})-(?P<seq>[0-9]+)$")
BRANCH_CODE = re.compile(r"[A-Za-z0-9_]+")
WIDTH = 4
"""Digits of a sequence number (more when a day has more tickets)."""


@dataclass(frozen=True, slots=True)
class TicketNumber:
    """A ticket number taken apart: its prefix (branch code and local date) and sequence number."""

    prefix: str
    sequence: int
    width: int
    """Digits of the sequence as written (0007 -> 4)."""


def parse_ticket_id(text: str) -> TicketNumber | None:
    """The parts of a ticket number, or None for text that is not one (surrounding blanks ignored)."""
    match = TICKET_NUMBER.match(text.strip())
    if match is None:
        return None
    return TicketNumber(match["prefix"], int(match["seq"]), len(match["seq"]))


def number_prefix(ticket_id: str) -> str:
    """What a renumbered ``ticket_id`` keeps: its branch and date (the whole text if it is no number)."""
    parsed = parse_ticket_id(ticket_id)
    return parsed.prefix if parsed is not None else ticket_id


def next_free_number(ticket_id: str, taken: Iterable[str]) -> str:
    """A number for a ticket whose ``ticket_id`` is taken: its prefix, after the highest ``taken`` one."""
    parsed = parse_ticket_id(ticket_id)
    prefix = number_prefix(ticket_id)
    width = parsed.width if parsed is not None else WIDTH
    highest = max((n for t in taken if (n := _sequence(t, prefix)) is not None), default=0)
    return f"{prefix}-{highest + 1:0{width}d}"


def _sequence(text: str, prefix: str) -> int | None:
    """The sequence number of ``text`` if it is ``prefix``, a hyphen and digits."""
    rest = text[len(prefix) + 1 :]
    if not text.startswith(f"{prefix}-") or not (rest.isascii() and rest.isdigit()):
        return None
    return int(rest)


def ticket_id(branch: str, day: date, sequence: int) -> str:
    """The ticket number for ``sequence`` (from 1) on local ``day`` at ``branch``."""
    if not BRANCH_CODE.fullmatch(branch):
        raise ValueError(f"branch code {branch!r} must be letters and digits")
    if sequence < 1:
        raise ValueError("sequence numbers start at 1")
    return f"{branch}-{day:%Y%m%d}-{sequence:0{WIDTH}d}"


def next_ticket_id(branch: str, day: date, existing: Iterable[str]) -> str:
    """The next free number for ``branch`` on local ``day``, after the highest in ``existing``."""
    prefix = f"{branch}-{day:%Y%m%d}".casefold()
    highest = 0
    for text in existing:
        parsed = parse_ticket_id(text)
        if parsed is not None and parsed.prefix.casefold() == prefix:
            highest = max(highest, parsed.sequence)
    return ticket_id(branch, day, highest + 1)
