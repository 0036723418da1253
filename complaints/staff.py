"""Per-staff KPIs (SUMMARY §4.4): each coordinator's and investigator's figures over a period.

A person is named on a ticket: the coordinator (``Ticket.coordinator``) and the
investigator (``Ticket.investigator``), each within the ticket's branch (the
same name in two branches is two people). Their figures are the figures of
`complaints.kpis` over the tickets naming them — nothing is defined twice:

- resolution rate: `Kpis.resolution` (resolved among tickets received in the period);
- timeliness: the on-time rate of every milestone reached in the period
  (`Kpis.on_time` of every `Milestone`, pooled: hits over hits and misses,
  pending deadlines left out as unknown);
- satisfaction: `Kpis.satisfaction` (satisfied or fairly satisfied among revisits answered);
- revisits: tickets revisited in the period, and those inside the revisit window.

A ticket without a name counts for nobody here (it still counts in the branch's
and department's figures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from complaints.enums import Labelled
from complaints.figures import Milestone
from complaints.kpis import KpiAccumulator, Kpis, Rate, memo_deadlines
from complaints.model import Ticket
from complaints.periods import Period
from complaints.sla import SlaClock


class StaffRole(Labelled):
    """What a person named on a ticket does for it."""

    COORDINATOR = ("coordinator", "投诉管理员", "Coordinator")
    INVESTIGATOR = ("investigator", "调查人", "Investigator")


STAFF_FIELD: dict[StaffRole, str] = {
    StaffRole.COORDINATOR: "coordinator",
    StaffRole.INVESTIGATOR: "investigator",
}
"""The ticket field naming the person of each role."""


@dataclass(frozen=True, slots=True)
class StaffKey:
    """One person: their role, branch and name as typed on the tickets (trimmed)."""

    role: StaffRole
    branch: str
    name: str


@dataclass(frozen=True)
class StaffKpis:
    """The figures of one person over a period (see the module docstring)."""

    key: StaffKey
    kpis: Kpis

    @property
    def received(self) -> int:
        return self.kpis.received

    @property
    def resolution(self) -> Rate:
        return self.kpis.resolution

    @property
    def timeliness(self) -> Rate:
        return pooled(self.kpis.on_time.values())

    @property
    def satisfaction(self) -> Rate:
        return self.kpis.satisfaction

    @property
    def revisits(self) -> int:
        """Tickets revisited in the period (with an answer or not)."""
        revisit = self.kpis.on_time[Milestone.REVISIT]
        return revisit.total + revisit.unknown

    @property
    def revisits_in_window(self) -> Rate:
        return self.kpis.on_time[Milestone.REVISIT]


def pooled(rates: Iterable[Rate]) -> Rate:
    """The rates added up: hits over totals, unknowns summed."""
    hits = total = unknown = 0
    for r in rates:
        hits, total, unknown = hits + r.hits, total + r.total, unknown + r.unknown
    return Rate.of(hits, total, unknown)


@dataclass(frozen=True, slots=True)
class StaffFigure:
    """A column of the per-staff tables: its labels and its value (a `Rate` for rates)."""

    key: str
    zh: str
    en: str
    value: Callable[[StaffKpis], Any]
    rate: bool = False

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


STAFF_FIGURES: tuple[StaffFigure, ...] = (
    StaffFigure("received", "受理量", "Received", lambda s: s.received),
    StaffFigure("resolution", "解决率", "Resolution rate", lambda s: s.resolution, rate=True),
    StaffFigure("timeliness", "时限达标率", "On-time rate", lambda s: s.timeliness, rate=True),
    StaffFigure("satisfaction", "满意率", "Satisfaction", lambda s: s.satisfaction, rate=True),
    StaffFigure("revisits", "回访数", "Revisits", lambda s: s.revisits),
    StaffFigure(
        "revisit_window", "按时回访率", "Revisits in window", lambda s: s.revisits_in_window, rate=True
    ),
)
"""The per-staff table's columns, the same on the dashboard and in the consolidated workbook."""


def staff_of(ticket: Ticket) -> list[StaffKey]:
    """The people named on ``ticket`` (none when both names are blank)."""
    found = []
    for role, name in STAFF_FIELD.items():
        person = getattr(ticket, name).strip()
        if person:
            found.append(StaffKey(role, ticket.branch.strip(), person))
    return found


class StaffAccumulator:
    """Per-staff `KpiAccumulator`s of a stream of tickets over ``period`` (counts only, per person)."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.people: dict[StaffKey, KpiAccumulator] = {}

    def add(self, ticket: Ticket, clock: SlaClock) -> None:
        """Count ``ticket`` (kept by ``clock``) for each person named on it who takes part in the period."""
        names = staff_of(ticket)
        if not names:
            return
        deadlines = memo_deadlines(clock, ticket)
        for key in names:
            found = self.people.get(key)
            fresh = found is None
            if found is None:
                found = KpiAccumulator(self.period)
            if found.add(ticket, clock, deadlines) and fresh:
                self.people[key] = found

    def merge(self, other: StaffAccumulator) -> StaffAccumulator:
        """Add ``other``'s counts (same period); returns self."""
        for key, theirs in other.people.items():
            self.people.setdefault(key, KpiAccumulator(self.period)).merge(theirs)
        return self

    def result(self) -> list[StaffKpis]:
        """Each person's figures: by role, then branch, then name."""
        order = list(StaffRole)
        keys = sorted(self.people, key=lambda k: (order.index(k.role), k.branch, k.name))
        return [StaffKpis(k, self.people[k].result()) for k in keys]


def staff_kpis(tickets: Iterable[Ticket], period: Period, clock: SlaClock) -> list[StaffKpis]:
    """The per-staff KPIs of ``tickets`` (all kept by ``clock``) over ``period``."""
    accumulator = StaffAccumulator(period)
    for ticket in tickets:
        accumulator.add(ticket, clock)
    return accumulator.result()
