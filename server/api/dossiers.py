"""GET /api/tickets/<key>/dossier.pdf|.xlsx: a ticket's regulator dossier for the ribbon and scripts.

The same dossier as the dashboard's and the command line's (`server.services.dossier`),
with its digest. A branch token reaches only its own branch's tickets (another
branch's ticket is as missing as an unknown one); head office reaches every
branch. The dossier is a printed record, never synced back, so phone numbers are
masked for every role but admin — a branch's own too, unlike its sync pull.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response

from server import clock
from server.api.blueprint import ApiBlueprint
from server.auth import ADMIN, BRANCH, HEAD_OFFICE, current, require
from server.errors import ApiError
from server.privacy import sees_phones
from server.services import dossier as dossiers
from server.services.errors import NotFound
from server.storage.db import get_db
from server.storage.models import TicketRow
from server.xlsx.dossier import RenderError, pdf_bytes, workbook_bytes

blp = ApiBlueprint("dossiers", __name__, url_prefix="/api", description="Regulator dossiers")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"
SECURITY = [{"bearer": []}]


def _file_response(mimetype: str, description: str) -> dict[str, Any]:
    """The OpenAPI description of a 200 that is a file, with the dossier's digest in a header."""
    return {
        "description": description,
        "headers": {
            "X-Dossier-SHA256": {
                "description": "the dossier's SHA-256, as printed on it",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            }
        },
        "content": {mimetype: {"schema": {"type": "string", "format": "binary"}}},
    }


@blp.route("/tickets/<string:sync_key>/dossier.pdf", methods=["GET"])
@blp.doc(security=SECURITY, responses={"200": _file_response(PDF, "the dossier as PDF (A4, fonts embedded)")})
@require(BRANCH, HEAD_OFFICE, ADMIN)
def dossier_pdf(sync_key: str) -> Any:
    """The ticket's dossier as PDF; 503 when the server cannot run LibreOffice.

    Phone numbers are masked for every caller but an administrator.
    """
    made = _made(sync_key)
    try:
        content = pdf_bytes(made)
    except RenderError as exc:
        raise ApiError(503, "dossier_failed", str(exc), {"sync_key": sync_key}) from exc
    return _file(content, PDF, f"dossier-{made.dossier.ticket_id}.pdf", made.digest)


@blp.route("/tickets/<string:sync_key>/dossier.xlsx", methods=["GET"])
@blp.doc(security=SECURITY, responses={"200": _file_response(XLSX, "the dossier as a printable sheet")})
@require(BRANCH, HEAD_OFFICE, ADMIN)
def dossier_xlsx(sync_key: str) -> Any:
    """The ticket's dossier as a printable sheet (.xlsx): what the ribbon's Dossier button writes in.

    Phone numbers are masked for every caller but an administrator.
    """
    made = _made(sync_key)
    return _file(workbook_bytes(made), XLSX, f"dossier-{made.dossier.ticket_id}.xlsx", made.digest)


def _made(sync_key: str) -> dossiers.Made:
    principal = current()
    with get_db().read() as session:
        row = session.get(TicketRow, sync_key)
        if row is None or (principal.role == BRANCH and row.branch_id != principal.branch_id):
            raise NotFound(
                "ticket_not_found",
                f"服务器上没有工单 {sync_key}（或不属于本分支机构）/ "
                f"no ticket {sync_key} on the server (or not your branch's)",
                {"sync_key": sync_key},
            )
        return dossiers.make(session, sync_key, not sees_phones(principal.role), clock.now())


def _file(content: bytes, mimetype: str, name: str, digest: str) -> Response:
    fallback = name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    return Response(
        content,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name)}",
            "X-Dossier-SHA256": digest,
            "Cache-Control": "no-store",
        },
    )
