"""Tickets and conflicts: list, detail with history, escalation, conflict resolution."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from server import clock
from server.api.blueprint import ApiBlueprint
from server.api.schemas import (
    Conflict,
    EscalateRequest,
    ResolveRequest,
    TicketDetail,
    TicketList,
    TicketQuery,
)
from server.auth import BRANCH, HEAD_OFFICE, current, require
from server.privacy import masked_json, sees_phones
from server.services.changes import Actor, Change
from server.services.sync import conflict_to_json, level_rules
from server.services.tickets import (
    branch_of,
    change_on,
    escalate_ticket,
    find_conflict,
    find_ticket,
    open_conflicts,
    resolve_conflict,
)
from server.storage.db import get_db
from server.storage.models import BranchRow, HistoryRow, LogRow, TaskRow, TicketRow
from server.storage.rows import clock_for, log_to_json, row_to_json, task_to_json

blp = ApiBlueprint("tickets", __name__, url_prefix="/api", description="Tickets, history and conflicts")
SECURITY = [{"bearer": []}]


def _scope() -> int | None:
    """The branch the caller is confined to (None for head office)."""
    principal = current()
    return principal.branch_id if principal.role == BRANCH else None


def _shown(answer: Any) -> Any:
    """``answer`` as the caller may see it: a branch gets its own tickets in full, head office masked."""
    principal = current()
    return answer if sees_phones(principal.role, own_branch=principal.role == BRANCH) else masked_json(answer)


def _actor() -> Actor:
    principal = current()
    return Actor(principal.name, principal.role, "api")


@blp.route("/tickets", methods=["GET"])
@blp.arguments(TicketQuery, location="query")
@blp.response(200, TicketList)
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def list_tickets(query: dict[str, Any]) -> Any:
    """Tickets the caller may see, newest first; head office may filter by branch code.

    Head office gets every phone number masked (138****8000); a branch gets its own tickets as typed.
    """
    scope = _scope()
    with get_db().read() as session:
        stmt = select(TicketRow, BranchRow.code).join(BranchRow, BranchRow.id == TicketRow.branch_id)
        if scope is not None:
            stmt = stmt.where(TicketRow.branch_id == scope)
        if query["branch"]:
            stmt = stmt.where(BranchRow.code == query["branch"])
        if query["status"]:
            stmt = stmt.where(TicketRow.status == query["status"])
        total = session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = session.execute(
            stmt.order_by(TicketRow.received_at.desc()).limit(query["limit"]).offset(query["offset"])
        )
        return _shown({"total": total, "tickets": [row_to_json(t, code) for t, code in rows]})


@blp.route("/tickets/<string:sync_key>", methods=["GET"])
@blp.response(200, TicketDetail)
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def ticket_detail(sync_key: str) -> Any:
    """One ticket with its full history, tasks, log and conflicts (phone numbers masked for head office)."""
    with get_db().read() as session:
        return _shown(_detail(session, sync_key, _scope()))


def _detail(session: Any, sync_key: str, scope: int | None) -> dict[str, Any]:
    row = find_ticket(session, sync_key, scope)
    branch = branch_of(session, row.branch_id)
    history = session.scalars(
        select(HistoryRow)
        .where(HistoryRow.entity == "ticket", HistoryRow.entity_key == sync_key)
        .order_by(HistoryRow.version, HistoryRow.id)
    )
    tasks = session.scalars(select(TaskRow).where(TaskRow.ticket_key == sync_key).order_by(TaskRow.task_no))
    log = session.scalars(select(LogRow).where(LogRow.ticket_key == sync_key).order_by(LogRow.at))
    return {
        "ticket": row_to_json(row, branch.code),
        "history": [
            {
                "version": h.version,
                "field": h.field,
                "old": json.loads(h.old_value) if h.old_value else None,
                "new": json.loads(h.new_value) if h.new_value else None,
                "by": h.by,
                "role": h.role,
                "source": h.source,
                "device": h.device,
                "at": h.at.isoformat(),
            }
            for h in history
        ],
        "tasks": [task_to_json(t) for t in tasks],
        "log": [log_to_json(e) for e in log],
        "conflicts": [
            conflict_to_json(c) for c in open_conflicts(session, row.branch_id) if c.entity_key == sync_key
        ],
    }


@blp.route("/tickets/<string:sync_key>/escalate", methods=["POST"])
@blp.arguments(EscalateRequest)
@blp.response(200, TicketDetail)
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def escalate(body: dict[str, Any], sync_key: str) -> Any:
    """Raise the ticket one warning level with a reason (head office or the ticket's branch)."""
    scope = _scope()
    with get_db().write() as session:
        change = change_on(session, sync_key, scope, _actor(), clock.now())
        escalate_ticket(change, sync_key, body["reason"], body["head"])
        return _shown(_detail(session, sync_key, scope))


@blp.route("/conflicts", methods=["GET"])
@blp.response(200, Conflict(many=True))
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def list_conflicts() -> Any:
    """Open conflicts the caller may see."""
    with get_db().read() as session:
        return _shown([conflict_to_json(c) for c in open_conflicts(session, _scope())])


@blp.route("/conflicts/<int(max=2147483647):conflict_id>/resolve", methods=["POST"])
@blp.arguments(ResolveRequest)
@blp.response(200, Conflict)
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def resolve(body: dict[str, Any], conflict_id: int) -> Any:
    """Keep the branch's or the server's value of a conflicting field."""
    scope = _scope()
    with get_db().write() as session:
        conflict = find_conflict(session, conflict_id, scope)
        branch = branch_of(session, conflict.branch_id)
        clock_ = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE"))
        change = Change(session, branch, _actor(), clock.now(), clock_, level_rules())
        _ = change.seq  # the branch lock first, then the conflict's row
        session.refresh(conflict)
        resolve_conflict(change, conflict, body["keep"])
        return _shown(conflict_to_json(conflict))
