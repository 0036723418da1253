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
