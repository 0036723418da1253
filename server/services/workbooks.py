"""A branch's blank workbook, as the branch portal hands it out.

The same template as ``flask --app server workbook new``, with the branch's
code, time zone and this server's address already in Settings and the
branch's own routing table (its stored rules, or the defaults) on Routing.
"""

from __future__ import annotations

import io

from complaints.enums import Category
from server.storage.db import Database
from server.storage.models import BranchRow
from server.storage.routing import routing_table
from server.xlsx.template import build_workbook


def blank_workbook(db: Database, branch_id: int, lang: str, server_url: str) -> tuple[str, bytes]:
    """(file name, .xlsx bytes) of an empty workbook for the branch, headers in ``lang``."""
    with db.read() as session:
        branch = session.get(BranchRow, branch_id)
        if branch is None:
            raise LookupError(f"no branch with id {branch_id}")
        table = routing_table(session, branch_id)
        code, timezone = branch.code, branch.timezone
    routes = [table.rules[c] for c in Category if c in table.rules]
    book = build_workbook(code, lang, server_url=server_url, timezone=timezone, routes=routes)
    out = io.BytesIO()
    book.save(out)
    return f"{code}.xlsx", out.getvalue()
