"""Which tickets a head-office count figure counts — and so which tickets the list behind it shows.

A `Selection` narrows the tickets *received* in a period (each in its own
branch's local days, `complaints.periods`) of the chosen branches. The KPI
accumulators count with it (`complaints.kpis.Kpis.count`), the server turns
the same fields into SQL for the ticket lists and the workbook's ticket sheets
(`server.storage.selections`), so a figure and its list cannot disagree.

**Cancelled tickets.** A cancelled ticket (status cancelled, or a cancellation
time) was never a complaint to handle: it counts in no figure but
`CANCELLED`, and no list shows it unless asked (``cancelled=True`` or None).

Flags and levels are those stored by the last write or flag scan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from complaints.enums import Category, Flag, Grade, Level, Status
from complaints.levels import Basis
from complaints.model import Ticket

OVERDUE_FLAGS: frozenset[Flag] = frozenset(f for f in Flag if f.is_overdue)
"""A ticket is overdue while it carries one of these."""
REVISIT_FLAGS: frozenset[Flag] = frozenset((Flag.REVISIT_DUE, Flag.REVISIT_OVERDUE))
FINISHED: frozenset[Status] = frozenset((Status.REVISITED,))
"""A live ticket is unfinished until its revisit, the last milestone (a closed ticket awaits it)."""


def is_cancelled(ticket: Ticket) -> bool:
    return ticket.status is Status.CANCELLED or ticket.cancelled_at is not None


def is_blank(text: str) -> bool:
    """Nothing but white space (what Python's `str.strip` removes)."""
    return not text.strip()


class Profile(NamedTuple):
    """What a selection looks at in a ticket; the accumulators count tickets per profile."""

    cancelled: bool
    status: Status
    level: Level
    category: Category | None
    overdue: bool
    revisit_due: bool
    grouped: bool
    repeat: bool
    training: bool
    major: bool = False
    """Graded major (`complaints.major`): the emergency path."""


def profile_of(ticket: Ticket) -> Profile:
    """The ticket's `Profile`; a missing status or level is the model's default (new, blue)."""
    flags = ticket.flags
    return Profile(
        is_cancelled(ticket),
        ticket.status or Status.NEW,
        ticket.level or Level.BLUE,
        ticket.category,
        not flags.isdisjoint(OVERDUE_FLAGS),
        not flags.isdisjoint(REVISIT_FLAGS),
        not is_blank(ticket.group_id),
        Basis.REPEAT in ticket.level_basis.split(","),
        ticket.training_case,
        ticket.grade is Grade.MAJOR,
    )


@dataclass(frozen=True, slots=True)
class Selection:
    """Tickets received in the period that pass every criterion given (the defaults pass all live ones)."""

    cancelled: bool | None = False
    """False: live tickets only (every figure but `CANCELLED`); True: cancelled ones only; None: both."""
    status: Status | None = None
    levels: frozenset[Level] = frozenset()
    """Any of these warning levels (empty: any level)."""
    category: Category | None = None
    uncategorised: bool = False
    """No category recorded."""
    unfinished: bool = False
    """Not revisited yet (`FINISHED`)."""
    overdue: bool = False
    """Carrying an overdue flag (`OVERDUE_FLAGS`)."""
    revisit_due: bool = False
    """Carrying a revisit flag (`REVISIT_FLAGS`): the revisit window is open or past."""
    grouped: bool = False
    """Part of a group incident (a group id, set by the level rules)."""
    repeat: bool = False
    """A repeat complaint: the level rules found another unresolved one of the customer (basis REPEAT)."""
    training: bool = False
    """Marked as a training case."""
    major: bool = False
    """Graded major (重大): on the emergency path, its plan due 24 elapsed hours after receipt."""
    department: str | None = None
    """Routed to this department ("" : not routed yet), compared without surrounding white space."""

    def admits(self, p: Profile) -> bool:
        """Whether a ticket of profile ``p`` passes (every criterion but ``department``)."""
        return (
            (self.cancelled is None or p.cancelled == self.cancelled)
            and (self.status is None or p.status is self.status)
            and (not self.levels or p.level in self.levels)
            and (self.category is None or p.category is self.category)
            and (not self.uncategorised or p.category is None)
            and (not self.unfinished or p.status not in FINISHED)
            and (not self.overdue or p.overdue)
            and (not self.revisit_due or p.revisit_due)
            and (not self.grouped or p.grouped)
            and (not self.repeat or p.repeat)
            and (not self.training or p.training)
            and (not self.major or p.major)
        )

    def matches(self, ticket: Ticket) -> bool:
        """Whether ``ticket`` passes every criterion (its receipt in the period is the caller's check)."""
        if self.department is not None and ticket.department.strip() != self.department:
            return False
        return self.admits(profile_of(ticket))


# the selections of the head-office count figures (`complaints.figures`)
RECEIVED = Selection()
CANCELLED = Selection(cancelled=True)
UNFINISHED = Selection(unfinished=True)
OVERDUE = Selection(overdue=True)
REVISIT_DUE = Selection(revisit_due=True)
RED = Selection(levels=frozenset((Level.RED,)))
YELLOW = Selection(levels=frozenset((Level.YELLOW,)))
RED_OR_YELLOW = Selection(levels=frozenset((Level.RED, Level.YELLOW)))
REPEAT = Selection(repeat=True)
GROUPED = Selection(grouped=True)
TRAINING = Selection(training=True)
MAJOR = Selection(major=True)
UNCATEGORISED = Selection(uncategorised=True)
EVERY = Selection(cancelled=None)
"""Every ticket received, cancelled ones included (the workbook's All tickets sheet)."""


def with_status(status: Status) -> Selection:
    """Live tickets of ``status``; the cancelled ones are `CANCELLED`."""
    return CANCELLED if status is Status.CANCELLED else Selection(status=status)


def with_level(level: Level) -> Selection:
    return Selection(levels=frozenset((level,)))


def with_category(category: Category) -> Selection:
    return Selection(category=category)
