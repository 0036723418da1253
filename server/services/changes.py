"""The one door: every change to a branch's tickets is settled by the rules and written here.

Every door — the sync API, the ``/branch`` upload, the add-in's Sync, the
dashboard's and the API's escalation and note, the flag scan — hands proposed
ticket states to `settle_all`, which runs the rules of `complaints.pipeline`
(lifecycle, levels with the branch-wide group and repeat candidates, status,
deadlines, flags), and stores the result with `write`: one new version per
changed ticket with its history, the log entries the rules wrote, the record
of each group incident a ticket joined (`server.services.groups`), and the
notices to department heads. Who wrote is the `Actor` the door authenticated.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from complaints.enums import Flag, Level
from complaints.levels import LevelRules
from complaints.major import on_emergency_path
from complaints.model import LogEntry, Task, Ticket, revised
from complaints.pipeline import Settled, settle
from complaints.routing import RoutingTable, head_rule
from complaints.sla import SlaClock
from complaints.wire import COLUMNS, DEADLINE_COLUMNS, encode_fields
from server.services.notices import (
    QUIET_STATUSES,
    Notice,
    emergency_key,
    emergency_notice,
    enqueue_many,
    escalation_key,
    escalation_notice,
)
from server.storage.figures import figure_row, write_figure_rows
from server.storage.groups import ensure_groups
from server.storage.models import BranchRow, OutboxRow
from server.storage.neighbours import GroupFindings
from server.storage.routing import EMERGENCY_ROLES, emergency_contacts, notice_language, routing_table
from server.storage.rows import (
    STORED_AS_IS,
    STORED_CONVERTED,
    STORED_TICKET_FIELDS,
    chunks,
    next_change_seq,
    to_db,
)
from server.storage.writes import (
    CREATED,
    Stamp,
    history_row,
    insert_history,
    insert_log,
    insert_tickets,
    json_text,
    update_tickets,
)

SYSTEM = "system"
"""The role of the scheduler's own changes."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, as the door authenticated them, and through which door."""

    name: str
    role: str
    door: str
    device: str = ""
    """The client's own label (``X-Device``): kept beside the name, never instead of it."""


SCHEDULER = Actor("scheduler", SYSTEM, "scheduler")


@dataclass
class Change:
    """One unit of work on one branch: the open transaction, who, when, and the rules' clock."""

    session: Session
    branch: BranchRow
    actor: Actor
    now: datetime
    clock: SlaClock
    rules: LevelRules = field(default_factory=LevelRules)
    _seq: int | None = None
    _table: RoutingTable | None = None
    notices: int = 0
    """Escalation notices this change queued."""

    @property
    def seq(self) -> int:
        """This transaction's change number, taken on first use (it locks the branch row until commit)."""
        if self._seq is None:
            self._seq = next_change_seq(self.session, self.branch.id)
        return self._seq

    @property
    def stamp(self) -> Stamp:
        a = self.actor
        return Stamp(a.name, a.role, a.door, a.device, self.now, self.seq)

    @property
    def routing(self) -> RoutingTable:
        if self._table is None:
            self._table = routing_table(self.session, self.branch.id)
        return self._table

    def head_of(self, ticket: Ticket) -> str:
        rule = head_rule(self.routing, ticket)
        return rule.head if rule else ""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A ticket as a door would have it: ``before`` as stored (None when new), ``after`` as proposed."""

    row: Any | None
    """The stored row as read (`server.storage.rows.TICKET_READ` or ORM), None for a new ticket."""
    before: Ticket | None
    after: Ticket
    given: Mapping[str, Any] | None = None
    """For a new ticket, the fields the door gave (its creation's history)."""


@dataclass(slots=True)
class Outcome:
    """A settled ticket and the columns to store: every one for a new ticket, the changed ones otherwise."""

    key: str
    proposal: Proposal
    settled: Settled
    values: dict[str, Any]

    @property
    def ticket(self) -> Ticket:
        return self.settled.ticket


def settle_all(
    proposals: Mapping[str, Proposal],
    *,
    now: datetime,
    clock: SlaClock,
    by: str,
    head_of: Callable[[Ticket], str],
    findings: GroupFindings | None,
    tasks: Mapping[str, list[Task]],
    progress: Mapping[str, list[LogEntry]],
) -> list[Outcome]:
    """Run the rules on every proposal; ``findings`` are the group and repeat rules' (None: leave levels)."""
    outcomes = []
    for key, p in proposals.items():
        settled = settle(
            p.before,
            p.after,
            now=now,
            clock=clock,
            by=by,
            head=head_of(p.after),
            assessment=findings.for_ticket(p.after) if findings is not None else None,
            tasks=tasks.get(key, ()),
            progress=progress.get(key, ()),
        )
        outcomes.append(Outcome(key, p, settled, _columns(p, settled)))
    return outcomes


_as_is = attrgetter(*STORED_AS_IS)
_converted = attrgetter(*STORED_CONVERTED)
_deadlines = attrgetter(*DEADLINE_COLUMNS.values())
_stored_fields = attrgetter(*STORED_TICKET_FIELDS)


def _columns(p: Proposal, settled: Settled) -> dict[str, Any]:
    ticket, deadlines = settled.ticket, settled.evaluation.deadlines
    dues = [d if isinstance(d, datetime) else None for d in _deadlines(deadlines)]  # PENDING: none yet
    row = p.row
    if row is None:
        values = dict(zip(DEADLINE_COLUMNS, dues, strict=True))
    else:
        values = {c: d for c, d in zip(DEADLINE_COLUMNS, dues, strict=True) if getattr(row, c) != d}
    before = p.before
    if before is None:  # a new ticket: every field, without comparing (the hot path of a big push)
        values.update(zip(STORED_AS_IS, _as_is(ticket), strict=True))
        values.update(zip(STORED_CONVERTED, map(to_db, STORED_CONVERTED, _converted(ticket)), strict=True))
        return values
    after, earlier = _stored_fields(ticket), _stored_fields(before)
    if after != earlier:  # one comparison in C first: most settled tickets keep most fields
        for key, value, old in zip(STORED_TICKET_FIELDS, after, earlier, strict=True):
            if value != old:
                values[key] = to_db(key, value)
    return values


def write(change: Change, outcomes: Iterable[Outcome], first_scan: bool = False) -> list[Outcome]:
    """Store the settled tickets that changed, their history and log, and tell department heads.

    Returns the outcomes written. ``first_scan``: levels raised before the scheduler
    first ran are recorded as skipped notices (they are in the daily digest), not mailed.
    """
    outcomes = list(outcomes)
    changed = [o for o in outcomes if o.values]
    if changed:
        stamp = change.stamp
        history: list[dict[str, Any]] = []
        created, updates = [], []
        for o in changed:
            if o.proposal.row is None:
                created.append(
                    o.values
                    | {
                        "sync_key": o.key,
                        "branch_id": change.branch.id,
                        "version": 1,
                        "change_seq": stamp.seq,
                        "updated_at": stamp.at,
                        "updated_by": stamp.by,
                    }
                )
                history.append(history_row(stamp, "ticket", o.key, 1, CREATED, None, _created(o)))
            else:
                updates.append((o.proposal.row, o.values))
                history += _history(stamp, o)
        insert_tickets(change.session, created)
        update_tickets(change.session, change.branch.id, stamp, updates)
        for new in (True, False):
            figures = [
                figure_row(o.key, change.branch.id, o.ticket, o.settled.evaluation.deadlines, change.clock)
                for o in changed
                if (o.proposal.row is None) is new
            ]
            zone = change.branch.timezone
            write_figure_rows(change.session.connection(), figures, zone, new=new)
        insert_history(change.session, history)
        insert_log(
            change.session, stamp, change.branch.id, ((o.key, e) for o in changed for e in o.settled.log)
        )
        groups = {o.ticket.group_id for o in changed if o.ticket.group_id}
        ensure_groups(change.session, change.branch.id, groups, change.now, stamp.by)
    announce(change, outcomes, first_scan)
    alert_emergencies(change, outcomes, first_scan)
    return changed


def _created(o: Outcome) -> str:
    given = o.proposal.given if o.proposal.given is not None else {}
    return json.dumps(encode_fields(given), ensure_ascii=False)


def _history(stamp: Stamp, o: Outcome) -> list[dict[str, Any]]:
    version = o.proposal.row.version + 1  # type: ignore[union-attr]
    before, ticket = o.proposal.before, o.ticket
    rows = []
    for key in o.values:
        if key in DEADLINE_COLUMNS:
            old, new = getattr(o.proposal.row, key), o.values[key]
        else:
            old, new = getattr(before, key), getattr(ticket, key)
        rows.append(
            history_row(
                stamp,
                "ticket",
                o.key,
                version,
                key,
                json_text(key, old, COLUMNS),
                json_text(key, new, COLUMNS),
            )
        )
    return rows


def announce(change: Change, outcomes: Iterable[Outcome], first_scan: bool = False) -> int:
    """Tell the department head of every yellow or red open ticket whose escalation has no notice yet."""
    escalated: dict[str, Outcome] = {}
    for o in outcomes:
        ticket = o.ticket
        if ticket.level is not Level.BLUE and ticket.status not in QUIET_STATUSES:
            escalated[escalation_key(ticket)] = o
    if not escalated:
        return 0
    known = _queued(change.session, escalated)
    fresh = [(key, o) for key, o in escalated.items() if key not in known]
    if first_scan:
        skipped = [
            Notice("escalation", key, "", "", "", "", "", change.branch.id, o.key)
            for key, o in fresh
            if not o.settled.raised
        ]
        enqueue_many(change.session, skipped, change.now, "escalated before the scheduler first ran")
        fresh = [(key, o) for key, o in fresh if o.settled.raised]
    lang = notice_language(change.session, change.branch.id) if fresh else ""
    notices = []
    for _, o in fresh:
        before, row = o.proposal.before, o.proposal.row
        raised_here = o.settled.raised or before is None or o.ticket.level.rank > before.level.rank
        by = change.actor.name if raised_here or row is None else row.updated_by
        deadlines = o.settled.evaluation.deadlines
        notices.append(escalation_notice(change.branch, o.ticket, by, change.routing, lang, deadlines))
    enqueue_many(change.session, notices, change.now)
    told = len(notices)
    change.notices += told
    return told


def alert_emergencies(change: Change, outcomes: Iterable[Outcome], first_scan: bool = False) -> int:
    """Tell the branch's emergency contacts once of each open case on the emergency path.

    Senior management, legal and public relations hear when a ticket is graded
    major (or joins a group incident, with ``SLA_POLICY`` ``emergency_groups``);
    senior management and the department head hear again, once, when its plan
    is overdue (no plan within the 24 hours). Before the scheduler first ran,
    the notices are recorded as skipped.
    """
    groups = change.clock.policy.emergency_groups
    wanted: dict[str, tuple[Outcome, str, bool]] = {}
    for o in outcomes:
        ticket = o.ticket
        if not on_emergency_path(ticket, groups) or ticket.status in QUIET_STATUSES:
            continue
        for role in EMERGENCY_ROLES:
            wanted.setdefault(emergency_key(change.branch.id, ticket, role, False), (o, role, False))
        if Flag.PLAN_OVERDUE in ticket.flags:
            for role in ("senior", "head"):
                wanted.setdefault(emergency_key(change.branch.id, ticket, role, True), (o, role, True))
    if not wanted:
        return 0
    known = _queued(change.session, wanted)
    fresh = {key: value for key, value in wanted.items() if key not in known}
    if first_scan:  # recorded, not mailed: nothing to address or write
        skipped = [
            Notice("emergency", key, "", "", "", "", "", change.branch.id, o.key)
            for key, (o, _, _) in fresh.items()
        ]
        enqueue_many(
            change.session, skipped, change.now, "on the emergency path before the scheduler first ran"
        )
        return len(skipped)
    if not fresh:
        return 0
    contacts = emergency_contacts(change.session, change.branch.id)
    lang = notice_language(change.session, change.branch.id)
    notices = []
    for o, role, late in fresh.values():
        if role == "head":
            rule = head_rule(change.routing, o.ticket)
            name, email = (rule.head, rule.head_email) if rule else ("", "")
        else:
            contact = contacts.get(role)
            name, email = (contact.name, contact.email) if contact else ("", "")
        deadlines = o.settled.evaluation.deadlines
        notices.append(emergency_notice(change.branch, o.ticket, role, name, email, late, lang, deadlines))
    enqueue_many(change.session, notices, change.now)
    change.notices += len(notices)
    return len(notices)


_outbox = OutboxRow.__table__.c
_QUEUED = select(_outbox.dedupe_key).where(_outbox.dedupe_key.in_(bindparam("keys", expanding=True)))


def _queued(session: Session, keys: Iterable[str]) -> set[str]:
    """Which of the notices ``keys`` (dedupe keys) are in the outbox already."""
    known: set[str] = set()
    for chunk in chunks(sorted(keys)):
        known.update(session.scalars(_QUEUED, {"keys": chunk}))
    return known


def stored_state(row: Any, ticket: Ticket) -> Proposal:
    """A proposal that changes nothing: the rules alone may (the scan, a neighbour of a change)."""
    return Proposal(row, ticket, ticket)


def with_changes(ticket: Ticket, changes: Mapping[str, Any]) -> Ticket:
    return revised(ticket, **changes) if changes else ticket
