"""Bring a branch's own complaint ledger in: preview it, then import it through the one door.

`plan_ledger` reads the file with the branch's confirmed mapping (overridden by
the one given), and says what an import would do — new tickets, stored ones the
ledger now says otherwise, unchanged ones — with every problem; it writes
nothing. `import_ledger` refuses a ledger with any error, whole; otherwise it
pushes the new and changed tickets with their import notes through the sync
service (`server.services.sync.push`, so the rules of `complaints.pipeline`
settle them and each gets its version and history, door "ledger") and keeps the
mapping as the branch's confirmed one. A stored ticket is pushed as based on
its first version: what the branch changed since then is merged field by field
and never overwritten by an old ledger. Importing the same ledger again pushes
nothing and changes nothing.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from complaints.ledger import (
    FIRST_IMPORT_FIELDS,
    TICKET_FIELDS,
    ColumnMapping,
    LedgerRead,
    read_ledger,
)
from complaints.model import Ticket
from complaints.pipeline import settle
from complaints.problems import Problem
from complaints.schema import TICKETS
from server.services.changes import Actor, Change
from server.services.errors import Invalid, NotFound
from server.services.sync import LogEdit, Push, TicketEdit, level_rules, push
from server.storage.accounts import AccountError, find_branch
from server.storage.db import Database
from server.storage.ledger import save_mapping, saved_mapping
from server.storage.models import BranchRow
from server.storage.rows import clock_for, read_tickets, ticket_of
from server.xlsx.ledger import read_ledger_file
from server.xlsx.template import build_workbook, deadline_cells

logger = logging.getLogger(__name__)


@dataclass
class LedgerPlan:
    """What importing a ledger would do, and every problem with it."""

    branch: str
    timezone: str
    read: LedgerRead
    mapping: ColumnMapping
    """The mapping used: the branch's confirmed one, overridden by the one given."""
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    """Sync keys of tickets by what an import does to them."""
    saved: ColumnMapping | None = None


@dataclass
class LedgerImported:
    """What an import did."""

    plan: LedgerPlan
    created: int = 0
    updated: int = 0
    rejected: list[Problem] = field(default_factory=list)
    renumbered: list[tuple[str, str]] = field(default_factory=list)


class LedgerRefused(Invalid):
    """A ledger with errors: nothing was imported."""

    def __init__(self, plan: LedgerPlan) -> None:
        super().__init__(
            "ledger_refused",
            f"the ledger was not imported: {len(plan.read.errors)} problem(s) / "
            f"台账未导入：{len(plan.read.errors)} 个问题",
        )
        self.plan = plan


def combined(saved: ColumnMapping | None, given: ColumnMapping | None) -> ColumnMapping:
    """The branch's confirmed mapping with what was given now on top."""
    saved, given = saved or ColumnMapping(), given or ColumnMapping()
    return ColumnMapping(
        {**saved.columns, **given.columns}, given.year or saved.year, given.channel or saved.channel
    )


def _branch(session: Session, code: str) -> BranchRow:
    try:
        return find_branch(session, code)
    except AccountError as exc:
        raise NotFound("no_branch", f"{exc} / 没有分支机构 {code}") from exc


def plan_ledger(
    db: Database,
    branch_code: str,
    data: bytes,
    name: str,
    *,
    now: datetime,
    mapping: ColumnMapping | None = None,
) -> LedgerPlan:
    """Read a ledger file for ``branch_code`` and compare it with what is stored; writes nothing.

    `server.xlsx.WorkbookError` for a file that cannot be read at all.
    """
    ledger = read_ledger_file(data, name)
    with db.read() as session:
        branch = _branch(session, branch_code)
        saved = saved_mapping(session, branch.id)
        used = combined(saved, mapping)
        clock = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE"))
        read = read_ledger(
            ledger.sheets,
            branch=branch.code,
            zone=clock.zone,
            now=now,
            mapping=used,
            source=name,
            epoch=ledger.epoch,
        )
        plan = LedgerPlan(branch.code, branch.timezone, read, used, saved=saved)
        stored = read_tickets(session, [t.sync_key for t in read.tickets])
        for ticket in read.tickets:
            row = stored.get(ticket.sync_key)
            if row is None:
                plan.new.append(ticket.sync_key)
            elif _differs(ticket, ticket_of(row, branch.code), read.fields):
                plan.changed.append(ticket.sync_key)
            else:
                plan.unchanged.append(ticket.sync_key)
    return plan


def _differs(ledger: Ticket, stored: Ticket, fields: tuple[str, ...]) -> bool:
    return any(getattr(ledger, k) != getattr(stored, k) for k in fields)


def edits(plan: LedgerPlan) -> Push:
    """The push of a plan: new tickets whole with their import notes, changed ones as based on version 1."""
    new, changed = set(plan.new), set(plan.changed)
    result = Push()
    for ticket in plan.read.tickets:
        if ticket.sync_key in new:
            fields = {k: getattr(ticket, k) for k in (*TICKET_FIELDS, *FIRST_IMPORT_FIELDS)}
            result.tickets.append(TicketEdit(ticket.sync_key, None, fields))
        elif ticket.sync_key in changed:
            fields = {k: getattr(ticket, k) for k in plan.read.fields}
            result.tickets.append(TicketEdit(ticket.sync_key, 1, fields))
    result.log = [LogEdit(key, note) for key, note in plan.read.notes if key in new]
    return result


def import_ledger(
    db: Database,
    branch_code: str,
    data: bytes,
    name: str,
    *,
    actor: Actor,
    now: datetime,
    mapping: ColumnMapping | None = None,
) -> LedgerImported:
    """Read a ledger file and import it (`import_plan`)."""
    plan = plan_ledger(db, branch_code, data, name, now=now, mapping=mapping)
    return import_plan(db, plan, actor=actor, now=now)


def import_plan(db: Database, plan: LedgerPlan, *, actor: Actor, now: datetime) -> LedgerImported:
    """Import a planned ledger through the one door and keep its mapping; `LedgerRefused` on any error."""
    if plan.read.errors:
        raise LedgerRefused(plan)
    outcome = LedgerImported(plan)
    confirmed = plan.mapping.merged(plan.read.plans)
    work = edits(plan)
    if not work and plan.saved is not None and plan.saved.to_json() == confirmed.to_json():
        return outcome
    clock = clock_for(plan.timezone, current_app.config.get("CALENDAR_FILE"))
    with db.write() as session:
        branch = _branch(session, plan.branch)
        if work:
            change = Change(session, branch, actor, now, clock, level_rules())
            _ = change.seq  # the branch lock first, as every writer does
            _tally(outcome, push(change, work))
        save_mapping(session, branch.id, confirmed, now, actor.name)
    logger.info(
        "ledger of %s imported by %s: %d created, %d updated, %d rejected",
        plan.branch, actor.name, outcome.created, outcome.updated, len(outcome.rejected),
    )  # fmt: skip
    return outcome


def _tally(outcome: LedgerImported, pushed: dict[str, Any]) -> None:
    origin = outcome.plan.read.origin
    for item in pushed["tickets"]:
        if item.get("created"):
            outcome.created += 1
        elif item.get("applied"):
            outcome.updated += 1
        if "renumbered_from" in item:
            outcome.renumbered.append((item["renumbered_from"], item["ticket_id"]))
    for item in pushed["rejected"]["tickets"]:
        sheet, row = origin.get(item["sync_key"], (None, None))
        for error in item["errors"]:
            header = TICKETS.column(error["field"]).zh if error["field"] in TICKETS.keys else error["field"]
            outcome.rejected.append(Problem(error["message"], error["message"], sheet, row, None, header))


def ledger_workbook(plan: LedgerPlan, lang: str, server_url: str, now: datetime) -> bytes:
    """A new branch workbook holding the ledger's tickets, settled by the rules at ``now``.

    For a branch that keeps working in Excel: its first Sync pushes them (their import
    moment with them) through the one door like any other row.
    """
    if plan.read.errors:
        raise LedgerRefused(plan)
    clock = clock_for(plan.timezone, current_app.config.get("CALENDAR_FILE"))
    tickets, deadlines = [], {}
    for ticket in plan.read.tickets:
        settled = settle(None, ticket, now=now, clock=clock, by="ledger")
        tickets.append(settled.ticket)
        deadlines[ticket.sync_key] = deadline_cells(settled.evaluation.deadlines)
    log = [note for _key, note in plan.read.notes]
    book = build_workbook(
        plan.branch,
        lang,
        server_url=server_url,
        timezone=plan.timezone,
        tickets=tickets,
        log=log,
        deadlines=deadlines,
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
