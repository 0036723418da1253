"""The Dossier button (投诉档案): the selected ticket's regulator dossier from the server, as a sheet.

The server keeps the whole record (every milestone with its verdict, the field
history of every door, the communication log, conflicts, attachment hashes);
the workbook holds only the current row. The button asks the server for the
ticket's printable dossier (``GET /api/tickets/<key>/dossier.xlsx``, numbers
masked for every token but an administrator's) and writes it, text as text,
into the Dossier sheet, replacing what was there, with its digest in the message.

A sheet rather than a PDF file beside the workbook: behind the server (Excel on
the web, Office.js, ``RunRemotePython``) the macro runs on the server, which
cannot write onto the user's disk; a sheet is written by the same actions on
both paths. The PDF for the regulator comes from the dashboard or the CLI.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from addin.messages import Message, listing, plain, say
from addin.reports import DOSSIER_TITLE, TEXT_FORMAT, column_formats, export_sheets, write_report
from addin.run import Run, macro
from addin.sheet import MacroError
from addin.sync_client import Unreachable, http_transport
from addin.targets import selected_tickets

DIGEST = re.compile(r"SHA-256:\s*([0-9a-f]{64})")
MASKED = "Phones masked: yes"


@macro
def dossier(run: Run) -> Message:
    """Write the selected ticket's dossier, as the server holds it, into the Dossier sheet."""
    chosen = selected_tickets(run)
    sheet = run.data.tickets_grid.title
    if not chosen:
        raise MacroError(say("dossier_no_selection", sheet=sheet))
    if len(chosen) > 1:
        numbers = listing([plain(t.ticket_id) for t in chosen], "、")
        raise MacroError(say("dossier_one_only", count=len(chosen), list=numbers))
    ticket = chosen[0]
    transport = run.env.transport or http_transport(run.data.settings.server_url)
    try:
        reply = transport.request("GET", f"/api/tickets/{quote(ticket.sync_key, safe='')}/dossier.xlsx")
    except Unreachable as exc:
        raise MacroError(say("pull_unreachable", url=transport.where, error=exc)) from exc
    if reply.status in (401, 403):
        raise MacroError(say("sync_token_rejected", detail=reply.detail, path=transport.token_hint))
    if reply.status == 404:
        raise MacroError(say("dossier_not_on_server", ticket=ticket.ticket_id))
    if reply.status != 200:
        raise MacroError(say("dossier_refused", status=reply.status, detail=reply.detail))
    try:
        [(_, rows)] = export_sheets(reply.content)[:1]
    except Exception as exc:  # calamine raises many kinds for a body that is not a workbook (a proxy's page)
        raise MacroError(say("dossier_refused", status=reply.status, detail=exc)) from exc
    texts = [["" if v is None else str(v) for v in row] for row in rows]
    width = max((len(row) for row in texts), default=1)
    formats = column_formats([TEXT_FORMAT] * width, 0, max(len(texts) - 1, 0))  # "=…" stays text
    title = write_report(run.book, run.prepare, DOSSIER_TITLE, run.lang, texts, formats)
    flat = "\n".join(v for row in texts for v in row)
    found = DIGEST.search(flat)
    return say(
        "dossier_done",
        ticket=ticket.ticket_id,
        sheet=title,
        rows=len(texts),
        digest=found[1] if found else "",
        masked=say("dossier_masked") if MASKED in flat else "",
    )
