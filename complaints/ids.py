"""Visible ticket numbers: branch code + local date + sequence, e.g. SZ01-20260302-0001."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

TICKET_ID = re.compile(r"^(?P<branch>[A-Za-z0-9_]+)-(?P<day>\d{8})-(?P<seq>\d{4,})$")


def ticket_id(branch: str, day: date, sequence: int) -> str:
    """The ticket number for ``sequence`` (from 1) on local ``day`` at ``branch``."""
    if not re.fullmatch(r"[A-Za-z0-9_]+", branch):
        raise ValueError(f"branch code {branch!r} must be letters and digits")
    if sequence < 1:
        raise ValueError("sequence numbers start at 1")
    return f"{branch}-{day:%Y%m%d}-{sequence:04d}"


def next_ticket_id(branch: str, day: date, existing: Iterable[str]) -> str:
    """The next free number for ``branch`` on local ``day``, after the highest in ``existing``."""
    prefix = f"{branch}-{day:%Y%m%d}".casefold()
    highest = 0
    for text in existing:
        match = TICKET_ID.match(text.strip())
        if match and f"{match['branch']}-{match['day']}".casefold() == prefix:
            highest = max(highest, int(match["seq"]))
    return ticket_id(branch, day, highest + 1)


_NUMBERED = re.compile(r"^(?P<prefix>.+-\d{8})-(?P<seq>\d+)$")
"""Any number ending in ``-YYYYMMDD-sequence``: numbers typed by hand need not follow `TICKET_ID`."""


def number_prefix(number: str) -> str:
    """What a ticket number's renumbered copies share: all but the sequence (the whole number if none)."""
    match = _NUMBERED.match(number)
    return match["prefix"] if match else number


def renumber(number: str, taken: Iterable[str]) -> str:
    """A free number for a duplicate of ``number``: the same prefix, the sequence after the highest taken."""
    match = _NUMBERED.match(number)
    prefix = number_prefix(number)
    width = len(match["seq"]) if match else 4
    highest = max(
        (int(m["seq"]) for t in taken if (m := _NUMBERED.match(t)) and m["prefix"] == prefix), default=0
    )
    return f"{prefix}-{highest + 1:0{width}d}"
