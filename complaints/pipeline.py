"""The rules every change to a ticket goes through, in order, whatever door it came through.

The server's one service runs `settle` on every ticket a change touches (and on
the neighbours a group or repeat rule links to it); the add-in's Check deadlines
runs it on every row of the workbook. So a ticket ends up the same wherever it
was edited:

1. lifecycle — a dissatisfied revisit escalates one level and reopens the
   ticket; a new objection after the feedback starts a second investigation;
2. levels — the rules' bases (group incident, repeat complaint, media, regulator)
   each raise the level once;
3. the improvement measure: status, done time and what came of it (`complaints.rootcause`);
4. status, deadlines and flags at ``now``.

Lowering a level is the one change the rules judge before anything is stored
(`lowering_problem`): it needs a new reason, and it is logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from complaints.enums import LogKind, Satisfaction, Status
from complaints.flags import Evaluation, evaluate
from complaints.history import imported_history, is_history
from complaints.levels import Assessment, apply_assessment, own_bases
from complaints.lifecycle import derive_status, record_objection, record_revisit
from complaints.model import LogEntry, Task, Ticket, revised
from complaints.rootcause import effect_of, settle_measure
from complaints.sla import SlaClock
from complaints.validation import Problem

FINISHED = frozenset({Status.REVISITED, Status.CANCELLED})
"""Statuses whose level the rules leave alone: the case is over."""


@dataclass(slots=True)
class Settled:
    """A ticket after the rules: its new state, what they derived, the log they wrote."""

    ticket: Ticket
    evaluation: Evaluation
    log: list[LogEntry] = field(default_factory=list)
    raised: bool = False
    """The level rose here (by a rule or a dissatisfied revisit): the department head is told."""


def dissatisfied_revisit(ticket: Ticket) -> bool:
    """A revisit recorded as dissatisfied and not yet acted on (acting on it empties the revisit time).

    A revisit an imported ledger had recorded is history, already acted on by hand (`complaints.history`).
    """
    return (
        ticket.satisfaction is Satisfaction.DISSATISFIED
        and ticket.revisited_at is not None
        and ticket.closed_at is not None
        and ticket.cancelled_at is None
        and not is_history(ticket, ticket.revisited_at)
    )


def new_objection(before: Ticket | None, after: Ticket) -> bool:
    """The customer's new demand was just recorded on a ticket that has had its feedback."""
    demand = after.objection_demand.strip()
    return (
        before is not None
        and bool(demand)
        and demand != before.objection_demand.strip()
        and after.feedback_at is not None
        and after.cancelled_at is None
    )


def _lifecycle(
    before: Ticket | None, after: Ticket, by: str, head: str, now: datetime
) -> tuple[Ticket, list[LogEntry], bool]:
    if dissatisfied_revisit(after):
        assert after.revisited_at is not None and after.satisfaction is not None
        outcome = record_revisit(after, after.revisited_at, after.satisfaction, after.suggestions, by, head)
        return outcome.ticket, list(outcome.log), outcome.escalation is not None
    if new_objection(before, after):
        reopened, entry = record_objection(after, after.objection_demand, now, by)
        return reopened, [entry], False
    return after, [], False


def settle(
    before: Ticket | None,
    after: Ticket,
    *,
    now: datetime,
    clock: SlaClock,
    by: str,
    head: str = "",
    assessment: Assessment | None = None,
    tasks: Iterable[Task] = (),
    progress: Iterable[LogEntry] = (),
) -> Settled:
    """Apply the rules to ``after`` (``before``: the ticket as stored, None for a new one or offline).

    ``assessment`` is what the level rules found for this ticket among its branch's
    tickets (`complaints.levels.assess`); None leaves the level as it is, as does a ticket
    imported as history (`complaints.history`).
    """
    ticket, log, raised = _lifecycle(before, after, by, head, now)
    if assessment is not None and ticket is not after:  # an objection just counted may be the second
        assessment = Assessment(assessment.bases | own_bases(ticket), assessment.group_id)
    if assessment is not None and derive_status(ticket) not in FINISHED and not imported_history(ticket):
        ticket, record, entry = apply_assessment(ticket, assessment, now, by, head)
        if entry is not None:
            log.append(entry)
        raised = raised or record is not None
    ticket = settle_measure(before, ticket, now)
    effect = effect_of(ticket, now, clock.policy.recurrence_days)
    evaluation = evaluate(ticket, clock, now, tasks, progress)
    if (
        ticket.status is not evaluation.status
        or ticket.flags != evaluation.flags
        or ticket.effect is not effect
    ):
        if ticket is after:
            ticket = revised(after)  # the caller's ticket stays as it was given
        ticket.status, ticket.flags, ticket.effect = evaluation.status, evaluation.flags, effect
    return Settled(ticket, evaluation, log, raised)


def lowering_problem(before: Ticket, after: Ticket) -> Problem | None:
    """A lower level needs a new reason (DESIGN §3.4: de-escalation is never silent)."""
    if after.level.rank >= before.level.rank:
        return None
    reason = after.level_reason.strip()
    if reason and reason != before.level_reason.strip():
        return None
    return Problem(
        "level_reason",
        f"lowering the level from {before.level.en} to {after.level.en} needs a new reason in "
        "Escalation reason",
        f"把预警等级从{before.level.zh}降为{after.level.zh}，须在“升级/降级原因”中填写新的原因",
    )


def lowering_entry(
    before: Ticket, after: Ticket, by: str, at: datetime, raised_by_head_office: bool
) -> LogEntry:
    """The log entry of a level lowered by hand; says so when head office had raised it."""
    text = (
        f"{before.level.zh}→{after.level.zh} ({before.level.value}→{after.level.value}): "
        f"{after.level_reason.strip()}"
    )
    if raised_by_head_office:
        text += " [总部曾升级此单 / head office had raised this level]"
    return LogEntry(after.ticket_id, at, LogKind.DEESCALATION, text, author=by)
