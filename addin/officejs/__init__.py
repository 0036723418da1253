"""The Office.js add-in: manifest.xml, the commands.js client and its function file.

The server serves this folder under ``/officejs/`` and the manifest with its own
address in place of the placeholder host (:func:`manifest`).
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.xml"
CLIENT = HERE / "commands.js"
PLACEHOLDER_HOST = "https://localhost:5000"
DASHBOARD_ON_THE_WEB = {
    "group": "a group incident's page on the dashboard does the same (plan, compensation, progress)"
}
"""Ribbon macros the web add-in leaves to the dashboard: Office allows 20 functions per add-in runtime."""

# The remote actions commands.js applies (its ACTIONS object): the common subset
# of XLWINGS.md plus sheet rename/delete/clear and autofit. Macros that emit only
# these work in desktop Excel through Remote.bas and in the Office.js add-in alike.
OFFICEJS_ACTIONS = frozenset(
    {
        "setValues",
        "setRangeColor",
        "setNumberFormat",
        "rangeClear",
        "rangeClearContents",
        "rangeClearFormats",
        "sheetClear",
        "sheetClearContents",
        "sheetClearFormats",
        "rangeSelect",
        "activateSheet",
        "addSheet",
        "setSheetName",
        "sheetDelete",
        "setAutofit",
        "namesAdd",
        "nameDelete",
        "setRangeName",
        "addHyperlink",
        "rangeInsert",
        "rangeDelete",
        "addTable",
        "setTableName",
        "resizeTable",
        "showAutofilterTable",
        "showHeadersTable",
        "showTotalsTable",
        "setTableStyle",
        "alert",
    }
)

# Applied by xlwings' VBA client (Remote.bas) but not by commands.js: pictures,
# copying a range (Office.js cannot reach the clipboard) and running VBA macros.
VBA_ONLY_ACTIONS = frozenset(
    {
        "addPicture",
        "updatePicture",
        "deletePicture",
        "setPictureName",
        "setPictureHeight",
        "setPictureWidth",
        "copyRange",
        "runMacro",
    }
)


def manifest(base_url: str = PLACEHOLDER_HOST) -> str:
    """Return manifest.xml with every URL on `base_url` (e.g. "https://desk.example.cn")."""
    base_url = base_url.rstrip("/")
    if not base_url.startswith("https://"):
        raise ValueError(f"Office add-ins load only over HTTPS, got {base_url!r}")
    return MANIFEST.read_text(encoding="utf-8").replace(PLACEHOLDER_HOST, base_url)
