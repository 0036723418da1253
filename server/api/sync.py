"""POST /api/sync: push the branch's changed rows and pull what changed on the server."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import current_app, request
from sqlalchemy.orm import Session

from server import clock
from server.api.blueprint import ApiBlueprint
from server.api.schemas import SyncRequest, SyncResponse
from server.auth import BRANCH, current, require
from server.errors import ApiError
from server.services.changes import Actor, Change
from server.services.idempotency import run_once
from server.services.sync import level_rules, parse_push, pull, push
from server.storage.db import get_db
from server.storage.models import BranchRow
from server.storage.rows import clock_for

blp = ApiBlueprint("sync", __name__, url_prefix="/api", description="Branch ↔ server synchronisation")


@blp.route("/sync", methods=["POST"])
@blp.arguments(SyncRequest, required=False)  # no body: push nothing, pull from cursor 0
@blp.response(200, SyncResponse)
@blp.doc(
    security=[{"bearer": []}],
    parameters=[
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": True,
            "schema": {"type": "string", "maxLength": 200},
        }
    ],
)
@require(BRANCH)
def sync(body: dict[str, Any]) -> Any:
    """Push changed rows (each with the version it was based on) and pull changes after ``cursor``."""
    principal = current()
    if body["branch"] and body["branch"].casefold() != principal.branch_code.casefold():
        raise ApiError(
            409,
            "wrong_branch",
            f"this workbook belongs to branch {body['branch']}, the token to {principal.branch_code} / "
            f"工作簿属于 {body['branch']}，令牌属于 {principal.branch_code}",
            {"field": "branch"},
        )
    now = clock.now()
    version_check = current_app.config["SYNC_VERSION_CHECK"]

    device = unquote(request.headers.get("X-Device", ""))[:200]  # the add-in percent-encodes non-Latin-1
    actor = Actor(principal.name, principal.role, "api", device)
    edits = parse_push(body)

    def work(session: Session) -> tuple[int, Any]:
        branch = session.get(BranchRow, principal.branch_id)
        assert branch is not None
        clock_ = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE"))
        change = Change(session, branch, actor, now, clock_, level_rules())
        if edits:
            _ = change.seq  # lock the branch first, before any ticket row, so writers queue in one order
        return 200, {"pushed": push(change, edits, version_check)}

    def with_pull(session: Session, kept: dict[str, Any]) -> dict[str, Any]:
        """The pull is not kept with the key: a resend gets it again, from the data of its own moment."""
        branch = session.get(BranchRow, principal.branch_id)
        assert branch is not None
        return {**kept, "pulled": pull(session, branch, body["cursor"])}

    status, response = run_once(
        get_db(), principal.key, request.headers.get("Idempotency-Key"), body, now, work, with_pull
    )
    return response, status
