"""Tickets and conflicts: list, detail with history, escalation, conflict resolution."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import func, select

from server import clock
from server.api.schemas import (
    Conflict,
    EscalateRequest,
    ResolveRequest,
    TicketDetail,
    TicketList,
    TicketQuery,
)
from server.auth import BRANCH, HEAD_OFFICE, current, require
from server.errors import ApiError
from server.services.sync import SyncContext, conflict_to_json
from server.services.tickets import (
    branch_of,
    escalate_ticket,
    find_conflict,
    find_ticket,
    open_conflicts,
    resolve_conflict,
)
from server.storage.db import get_db
from server.storage.models import BranchRow, HistoryRow, LogRow, TaskRow, TicketRow
from server.storage.rows import clock_for, log_to_json, row_to_json, task_to_json

blp = Blueprint("tickets", __name__, url_prefix="/api", description="Tickets, history and conflicts")
SECURITY = [{"bearer": []}]


def _scope() -> int | None:
    """The branch the caller is confined to (None for head office)."""
    principal = current()
    return principal.branch_id if principal.role == BRANCH else None


def _context(session: Any, branch: BranchRow) -> SyncContext:
    principal = current()
    return SyncContext(
        session,
        branch,
        by=principal.name,
        now=clock.now(),
        clock=clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE")),
        source="head_office" if principal.role != BRANCH else "branch",
    )


@blp.route("/tickets", methods=["GET"])
@blp.arguments(TicketQuery, location="query")
@blp.response(200, TicketList)
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def list_tickets(query: dict[str, Any]) -> Any:
    """Tickets the caller may see, newest first; head office may filter by branch code."""
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
        return {"total": total, "tickets": [row_to_json(t, code) for t, code in rows]}


@blp.route("/tickets/<string:sync_key>", methods=["GET"])
@blp.response(200, TicketDetail)
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def ticket_detail(sync_key: str) -> Any:
    """One ticket with its full history, tasks, log and conflicts."""
    with get_db().read() as session:
        return _detail(session, sync_key, _scope())


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
                "source": h.source,
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
    if not body["reason"].strip():
        raise ApiError(422, "reason_required", "give a reason for the escalation", {"field": "reason"})
    scope = _scope()
    with get_db().write() as session:
        row = find_ticket(session, sync_key, scope)
        ctx = _context(session, branch_of(session, row.branch_id))
        _ = ctx.seq  # the branch lock first, then the ticket's, in the same order as a push
        session.refresh(row, with_for_update=True)
        escalate_ticket(ctx, row, body["reason"], body["head"])
        return _detail(session, sync_key, scope)


@blp.route("/conflicts", methods=["GET"])
@blp.response(200, Conflict(many=True))
@blp.doc(security=SECURITY)
@require(BRANCH, HEAD_OFFICE)
def list_conflicts() -> Any:
    """Open conflicts the caller may see."""
    with get_db().read() as session:
        return [conflict_to_json(c) for c in open_conflicts(session, _scope())]


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
        ctx = _context(session, branch_of(session, conflict.branch_id))
        _ = ctx.seq
        session.refresh(conflict)
        resolve_conflict(ctx, conflict, body["keep"])
        return conflict_to_json(conflict)
