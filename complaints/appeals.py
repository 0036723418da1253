"""Which tickets are appeals to the regulator (工信部 / 12300): the one definition the register uses.

A ticket is on appeal when it came in through the regulator channel or carries
the "regulator involved" mark; the same test makes it red (`complaints.levels`).
"""

from __future__ import annotations

from complaints.enums import Channel
from complaints.model import Ticket

REGULATOR_FIELD = "regulator_involved"
"""The mark a coordinator sets when the regulator forwards a complaint already on record."""


def on_appeal(ticket: Ticket) -> bool:
    return ticket.regulator_involved or ticket.channel is Channel.REGULATOR
