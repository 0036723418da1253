"""Ticket lifecycle: status from milestones, milestone order, objections, revisits, cancellation."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from complaints.enums import Level, LogKind, Satisfaction, Status
from complaints.levels import DISSATISFIED_REASON, escalate
from complaints.model import MILESTONES, Escalation, LogEntry, Ticket

CHAIN: tuple[str, ...] = tuple(m for m in MILESTONES if m != "routed_at")
"""Milestones that must happen in this order (routing may happen any time after receipt)."""

REQUIRES: dict[str, str] = {
    "feedback_at": "resolved_at",
    "closed_at": "feedback_at",
    "revisited_at": "closed_at",
}
"""A milestone that cannot be filled while the one it needs is empty."""

REOPENED_FIELDS: tuple[str, ...] = (
    "plan_at",
    "extension_requested_at",
    "extension_until",
    "promised_at",
    "dept_feedback_due",
    "dept_feedback_at",
    "resolved_at",
    "feedback_at",
    "closed_at",
    "revisited_at",
)
"""What a second investigation empties, so that every later clock starts afresh."""


class LifecycleError(ValueError):
    """An action the ticket's current state does not allow."""


@dataclass(frozen=True, slots=True)
class MilestoneError:
    """A milestone out of order; ``field`` is the Ticket attribute to fix."""

    field: str
    message: str


def derive_status(ticket: Ticket) -> Status:
    """The status that the filled milestones imply."""
    if ticket.cancelled_at is not None:
        return Status.CANCELLED
    if ticket.revisited_at is not None:
        return Status.REVISITED
    if ticket.closed_at is not None:
        return Status.CLOSED
    if ticket.feedback_at is not None:
        return Status.FEEDBACK_GIVEN
    if ticket.resolved_at is not None:
        return Status.RESOLVED
    if ticket.reopened_at is not None:
        return Status.REINVESTIGATING
    if ticket.plan_at is not None:
        return Status.EXECUTING
    if ticket.routed_at is not None:
        return Status.INVESTIGATING
    if ticket.acknowledged_at is not None:
        return Status.ACKNOWLEDGED
    return Status.NEW


def milestone_errors(ticket: Ticket) -> list[MilestoneError]:
    """Report milestones out of order or missing the one they need; never fix them."""
    errors: list[MilestoneError] = []
    for name, needed in REQUIRES.items():
        if getattr(ticket, name) is not None and getattr(ticket, needed) is None:
            errors.append(MilestoneError(name, f"{name} is filled but {needed} is empty"))
    previous: tuple[str, datetime] | None = None
    for name in CHAIN:
        value = getattr(ticket, name)
        if value is None:
            continue
        if previous is not None and value < previous[1]:
            errors.append(
                MilestoneError(
                    name,
                    f"{name} ({value.isoformat()}) is before {previous[0]} ({previous[1].isoformat()})",
                )
            )
        previous = (name, value)
    if ticket.routed_at is not None and ticket.routed_at < ticket.received_at:
        errors.append(MilestoneError("routed_at", "routed_at is before received_at"))
    return errors


def _earlier_values(ticket: Ticket) -> str:
    return "; ".join(
        f"{name}={getattr(ticket, name).isoformat()}"
        for name in REOPENED_FIELDS
        if getattr(ticket, name) is not None
    )


def reopen(ticket: Ticket, at: datetime, demand: str, by: str, kind: LogKind) -> tuple[Ticket, LogEntry]:
    """Start a second investigation: empty the later milestones and keep them in the log."""
    entry = LogEntry(
        ticket.ticket_id,
        at,
        kind,
        f"{demand} [earlier: {_earlier_values(ticket)}]",
        author=by,
    )
    changes: dict[str, object] = {name: None for name in REOPENED_FIELDS}
    changes.update(
        extension_reason="",
        extension_customer_informed=False,
        objection_count=ticket.objection_count + 1,
        objection_demand=demand,
        reopened_at=at,
    )
    reopened = dataclasses.replace(ticket, **changes)
    reopened.status = derive_status(reopened)
    return reopened, entry


def record_objection(ticket: Ticket, demand: str, at: datetime, by: str) -> tuple[Ticket, LogEntry]:
    """The customer objects to the feedback: record the new demand and reopen."""
    if ticket.feedback_at is None:
        raise LifecycleError(f"{ticket.ticket_id}: an objection needs the result feedback first")
    if not demand.strip():
        raise LifecycleError(f"{ticket.ticket_id}: record the customer's new demand")
    return reopen(ticket, at, demand.strip(), by, LogKind.OBJECTION)


@dataclass(frozen=True, slots=True)
class RevisitOutcome:
    ticket: Ticket
    log: tuple[LogEntry, ...]
    escalation: Escalation | None


def record_revisit(
    ticket: Ticket,
    at: datetime,
    satisfaction: Satisfaction,
    suggestions: str,
    by: str,
    head: str = "",
) -> RevisitOutcome:
    """Record the revisit; a dissatisfied customer escalates the ticket one level and reopens it."""
    if ticket.closed_at is None:
        raise LifecycleError(f"{ticket.ticket_id}: a revisit needs the ticket to be closed first")
    visited = dataclasses.replace(ticket, revisited_at=at, satisfaction=satisfaction, suggestions=suggestions)
    visited.status = derive_status(visited)
    if satisfaction is not Satisfaction.DISSATISFIED:
        return RevisitOutcome(visited, (), None)
    reason = f"{DISSATISFIED_REASON}: {suggestions}".rstrip(": ")
    escalation = None
    log: list[LogEntry] = []
    if visited.level is not Level.RED:
        visited, escalation, entry = escalate(visited, reason, by, at, head)
        log.append(entry)
    reopened, entry = reopen(visited, at, reason, by, LogKind.REOPEN)
    return RevisitOutcome(reopened, (*log, entry), escalation)


def cancel(ticket: Ticket, reason: str, at: datetime, by: str) -> tuple[Ticket, LogEntry]:
    """Cancel a ticket with a reason; the row stays."""
    if not reason.strip():
        raise LifecycleError(f"{ticket.ticket_id}: cancelling needs a reason")
    cancelled = dataclasses.replace(ticket, cancelled_at=at, cancel_reason=reason.strip())
    cancelled.status = Status.CANCELLED
    return cancelled, LogEntry(ticket.ticket_id, at, LogKind.CANCELLATION, reason.strip(), author=by)
