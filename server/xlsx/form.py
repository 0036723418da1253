"""The complaint form (投诉处理单): one ticket on one printed page, looked up from the Tickets sheet.

The coordinator types a ticket number in the form's input cell; formulas find
its row on the Tickets sheet (by ticket number) and each field's column (by its
header, so a workbook whose columns moved still fills the form), and the page
prints on one A4 sheet with lines for the signatures. Nothing is copied: the
form always shows the row as it is now, with the phone number as the Tickets
sheet holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl.cell.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.dimensions import ColumnDimension

from complaints.schema import TICKETS, ColType
from server.xlsx import printing, styles
from server.xlsx.cellformat import DATE_FORMAT, DATETIME_FORMAT, INT_FORMAT

TITLE = {"zh": "处理单", "en": "Form"}
INPUT_CELL = "B3"
SECTIONS: Sequence[tuple[str, str, Sequence[str]]] = (
    (
        "受理信息",
        "Complaint",
        (
            "received_at",
            "channel",
            "customer_name",
            "contact",
            "preferred_channel",
            "category",
            "service",
            "place",
            "problem_time",
            "description",
            "expectation",
        ),
    ),
    (
        "定级与预警",
        "Grade and warning",
        ("grade", "level", "level_reason", "escalated_to", "status", "flags"),
    ),
    (
        "处理过程",
        "Handling",
        (
            "acknowledged_at",
            "ack_due",
            "routed_at",
            "department",
            "investigator",
            "dept_feedback_due",
            "dept_feedback_at",
            "plan_at",
            "plan_due",
            "extension_until",
            "extension_reason",
            "promised_at",
            "resolved_at",
            "resolve_due",
            "feedback_at",
            "feedback_due",
            "feedback_channel",
            "closed_at",
        ),
    ),
    ("处理结果", "Outcome", ("cause", "solution", "safeguards", "objection_count", "objection_demand")),
    ("回访", "Revisit", ("revisit_from", "revisit_until", "revisited_at", "satisfaction", "suggestions")),
)
LONG_TEXT = {
    "description",
    "expectation",
    "solution",
    "safeguards",
    "cause",
    "suggestions",
    "objection_demand",
}
SIGNERS = {
    "zh": ("调查人", "部门负责人", "投诉管理岗"),
    "en": ("Investigator", "Department head", "Coordinator"),
}
WORDS = {
    "zh": {
        "title": "投诉处理单",
        "input": "投诉编号（请输入）",
        "prompt": "请在上方输入投诉编号",
        "missing": "“投诉单”表中没有这个投诉编号",
        "signature": "签字：",
        "date": "日期：",
        "branch": "分公司",
    },
    "en": {
        "title": "Complaint handling form",
        "input": "Ticket ID (type it)",
        "prompt": "Type a ticket ID above",
        "missing": "No such ticket ID on the Tickets sheet",
        "signature": "Signature: ",
        "date": "Date: ",
        "branch": "Branch",
    },
}
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
LABEL_FONT = Font(name=styles.FONT_NAME, size=10, bold=True)
VALUE_FONT = Font(name=styles.FONT_NAME, size=10)
WRAP = Alignment(vertical="top", wrap_text=True)
FIND_ROW = "C3"
"""A hidden helper cell: the ticket's row on the Tickets sheet."""


def _formats() -> dict[ColType, str]:
    return {ColType.DATETIME: DATETIME_FORMAT, ColType.DATE: DATE_FORMAT, ColType.INT: INT_FORMAT}


def _lookup(tickets: str, header: str) -> str:
    """The formula showing ``header``'s cell of the ticket's row, blank when empty or not found."""
    value = f'INDEX({tickets}!$A:$CZ,{FIND_ROW},MATCH("{header}",{tickets}!$1:$1,0))'
    return f'=IFERROR(IF({value}="","",{value}),"")'


def form_sheet(wb: Any, lang: str, branch: str) -> Any:
    """Add the form sheet to ``wb`` (a normal or write-only workbook: rows are appended)."""
    w = WORDS[lang]
    ws = wb.create_sheet(TITLE[lang])
    heading = printing.Heading(f"{printing.literal(branch)} · {w['title']}", printing.PRINTED[lang], lang)
    printing.set_up(ws, heading, title_rows=None, pages_high=1, landscape=False)
    ws.column_dimensions["A"] = ColumnDimension(ws, index="A", width=22)
    ws.column_dimensions["B"] = ColumnDimension(ws, index="B", width=78)
    ws.column_dimensions["C"] = ColumnDimension(ws, index="C", hidden=True)
    tickets = f"'{TICKETS.title(lang)}'"
    rows = 0

    def cell(value: object, font: Font = VALUE_FONT, **look: Any) -> WriteOnlyCell:
        made = WriteOnlyCell(ws, value)
        made.font = font
        for name, setting in look.items():
            setattr(made, name, setting)
        return made

    def append(cells: list[WriteOnlyCell], height: float | None = None) -> None:
        nonlocal rows
        rows += 1
        if height is not None:  # before the row: a write-only sheet writes it at once
            ws.row_dimensions[rows].height = height
        ws.append(cells)

    append([cell(w["title"], Font(name=styles.FONT_NAME, size=16, bold=True))], 28)
    append([cell(w["branch"], LABEL_FONT, border=BOX), cell(branch, border=BOX)])
    typed = cell(None, Font(name=styles.FONT_NAME, size=12, bold=True), border=BOX)
    typed.fill = styles.solid("FFF2CC")
    typed.number_format = "@"
    find = f"=MATCH({INPUT_CELL},{tickets}!$A:$A,0)"
    append([cell(w["input"], LABEL_FONT, border=BOX), typed, cell(find)])
    note = f'=IF({INPUT_CELL}="","{w["prompt"]}",IF(ISNA({FIND_ROW}),"{w["missing"]}",""))'
    append([cell(None), cell(note, Font(name=styles.FONT_NAME, size=10, color=styles.OVERDUE_TEXT))])
    formats = _formats()
    for zh, en, keys in SECTIONS:
        section = cell(zh if lang == "zh" else en, styles.HEADER_FONT, border=BOX)
        section.fill = styles.solid(styles.HEADER_FILL)
        filler = cell(None, border=BOX)
        filler.fill = styles.solid(styles.HEADER_FILL)
        append([section, filler], 18)
        for key in keys:
            column = TICKETS.column(key)
            value = cell(_lookup(tickets, column.header(lang)), border=BOX, alignment=WRAP)
            value.number_format = formats.get(column.type, "General")
            label = cell(column.header(lang), LABEL_FONT, border=BOX, alignment=WRAP)
            append([label, value], 48 if key in LONG_TEXT else None)
    append([cell(None)])
    for signer in SIGNERS[lang]:
        line = f"{w['signature']}{'_' * 28}    {w['date']}{'_' * 16}"
        append([cell(signer, LABEL_FONT), cell(line)], 26)
    ws.print_area = f"A1:B{rows}"
    return ws
