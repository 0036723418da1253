"""Which sheets each ribbon macro reads, so the web client sends only those.

A 50,000-row branch workbook sent whole is over the body limit; most of a
workbook a macro never reads (report sheets, the coordinator's own sheets).
The server owns this list and serves it (``GET /xlwings/sheets``);
``commands.js`` sends every sheet's name (actions address sheets by position)
but the cells and tables only of the sheets listed, marking the others
``"omitted": true``. Should a macro read an omitted sheet all the same, the
engine refuses the call naming the sheet (`server.remote.engine.SheetNotSent`),
so a list that falls behind the macros fails loudly, never with a wrong result.

The desktop (``RunPython``) reads the workbook itself and is unaffected.
"""

from __future__ import annotations

from typing import Any

from addin.macros import MACROS
from addin.reports import DOSSIER_TITLE, REVISIT_TITLE, SUMMARY_TITLE, WORDING_TITLE
from complaints.schema import SHEETS

BRANCH_SHEETS = tuple(title for sheet in SHEETS for title in (sheet.zh, sheet.en))
"""Every branch macro reads the whole branch workbook once (`addin.sheet.read_branch`)."""
REPORTS = {
    "revisit_list": REVISIT_TITLE,
    "monthly_summary": SUMMARY_TITLE,
    "check_wording": WORDING_TITLE,
    "dossier": DOSSIER_TITLE,
}
"""Macros that rewrite a report sheet (they read its size to clear it)."""
ACTIVE_SHEET = {"check_wording"}
"""Macros that read the selection on whatever sheet is active."""
EVERY_SHEET = {"pull_consolidated"}
"""Macros that replace sheets named by the server's export: the client sends the whole workbook."""


def needs(macro: str) -> dict[str, Any]:
    """What the client sends for ``macro``: sheet titles (matched ignoring case), the active sheet, or all."""
    if macro in EVERY_SHEET:
        return {"all": True, "sheets": [], "active": True}
    report = REPORTS.get(macro, {})
    return {"all": False, "sheets": [*BRANCH_SHEETS, *report.values()], "active": macro in ACTIVE_SHEET}


def every_macro() -> dict[str, dict[str, Any]]:
    return {macro: needs(macro) for macro in MACROS}
