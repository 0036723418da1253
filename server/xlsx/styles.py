"""Colours, fonts and the conditional formats and drop-downs of the branch workbook.

Everything a macro cannot set (conditional formats, data validation, widths,
comments) is set here, once, when the template is built (XLWINGS.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from openpyxl.comments import Comment
from openpyxl.formatting.rule import Rule
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.differential import DifferentialStyle
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation

from complaints.cells import BOOL_LABELS
from complaints.enums import Flag, Level
from complaints.schema import ColType, Column

MAX_ROW = 1_048_576
"""Conditional formats and drop-downs reach the last row, so rows typed below the table get them too."""

LEVEL_FILL = {Level.RED: "FFC7CE", Level.YELLOW: "FFEB9C", Level.BLUE: "DDEBF7"}
LEVEL_TEXT = {Level.RED: "9C0006", Level.YELLOW: "7F6000", Level.BLUE: "1F3864"}
HEADER_FILL = "1F4E78"
COMPUTED_HEADER_FILL = "7F7F7F"
COMPUTED_FILL = "EDEDED"
OVERDUE_TEXT = "C00000"
OVERDUE_CELL_FILL = "C00000"

FONT_NAME = "Calibri"
"""The workbook's body font (a cell font without a name would fall back to a serif in LibreOffice)."""
HEADER_FONT = Font(name=FONT_NAME, size=11, bold=True, color="FFFFFF")
HEADER_ALIGNMENT = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_BORDER = Border(bottom=Side(style="thin", color="FFFFFF"))
COMPUTED_FONT = Font(name=FONT_NAME, size=11, color="595959")

OVERDUE_DEADLINE: dict[Flag, str] = {
    Flag.ACK_OVERDUE: "ack_due",
    Flag.PLAN_OVERDUE: "plan_due",
    Flag.DEPT_FEEDBACK_OVERDUE: "dept_feedback_due",
    Flag.RESOLVE_OVERDUE: "resolve_due",
    Flag.FEEDBACK_OVERDUE: "feedback_due",
    Flag.REVISIT_OVERDUE: "revisit_until",
    Flag.APPEAL_RISK: "appeal_risk_at",
    Flag.ROUTE_OVERDUE: "routed_at",
}
"""The cell each overdue flag marks: its deadline, or for ROUTE_OVERDUE the empty Routed at cell to fill
(TASK_OVERDUE marks only the Flags cell)."""

COMPUTED_NOTE = {
    "zh": "自动计算列（灰色）：由“检查时限”“分派”“同步”等按钮填写，请勿手工修改。",
    "en": "Computed column (grey): filled by the Check deadlines, Route and Sync buttons; do not type here.",
}


def solid(rgb: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=rgb, end_color=rgb)


def header_fill(column: Column) -> PatternFill:
    return solid(COMPUTED_HEADER_FILL if column.computed else HEADER_FILL)


def computed_note(lang: str) -> Comment:
    """The note on a computed column's header cell."""
    comment = Comment(COMPUTED_NOTE.get(lang, COMPUTED_NOTE["en"]), "Complaint Desk")
    comment.width = 260
    comment.height = 80
    return comment


def runs(columns: Sequence[Column], keep: bool) -> list[tuple[int, int]]:
    """1-based (first, last) index runs of consecutive columns whose ``computed`` is not ``keep``."""
    result: list[tuple[int, int]] = []
    for index, column in enumerate(columns, 1):
        if column.computed == keep:
            continue
        if result and result[-1][1] == index - 1:
            result[-1] = (result[-1][0], index)
        else:
            result.append((index, index))
    return result


def sqref(spans: Iterable[tuple[int, int]], first_row: int = 2, last_row: int = MAX_ROW) -> str:
    return " ".join(f"{get_column_letter(a)}{first_row}:{get_column_letter(b)}{last_row}" for a, b in spans)


def _flag_test(flag: Flag, cell: str) -> str:
    # The cell holds codes (", ") or the labels of the workbook's language ("、" or ", "): compare whole
    # items, so APPEAL_RISK does not match APPEAL_RISK_SOON nor "Feedback overdue" its department's
    items = f'","&SUBSTITUTE(SUBSTITUTE({cell},"、",","),", ",",")&","'
    return (
        "OR("
        + ",".join(f'ISNUMBER(SEARCH(",{name},",{items}))' for name in (flag.value, flag.zh, flag.en))
        + ")"
    )


def _level_test(level: Level, cell: str) -> str:
    # "=" is case-insensitive in Excel: matches the code and the English label; plus the Chinese label
    return f'OR({cell}="{level.zh}",{cell}="{level.value}")'


def add_ticket_formats(ws: object, columns: Sequence[Column]) -> None:
    """Row colour by warning level, overdue marks and the flags cell, as conditional formats."""
    index = {c.key: i for i, c in enumerate(columns, 1)}
    cf = ws.conditional_formatting  # type: ignore[attr-defined]

    def ref(key: str) -> str:
        return f"${get_column_letter(index[key])}2"

    for flag, key in OVERDUE_DEADLINE.items():
        if key in index and "flags" in index:
            letter = get_column_letter(index[key])
            rule = Rule(
                type="expression",
                formula=[_flag_test(flag, ref("flags"))],
                stopIfTrue=False,
                dxf=DifferentialStyle(font=Font(bold=True, color="FFFFFF"), fill=solid(OVERDUE_CELL_FILL)),
            )
            cf.add(f"{letter}2:{letter}{MAX_ROW}", rule)
    if "flags" in index:
        letter = get_column_letter(index["flags"])
        any_overdue = "OR(" + ",".join(_flag_test(f, ref("flags")) for f in Flag if f.is_overdue) + ")"
        rule = Rule(
            type="expression",
            formula=[any_overdue],
            dxf=DifferentialStyle(font=Font(bold=True, color=OVERDUE_TEXT), fill=solid("FFE1E1")),
        )
        cf.add(f"{letter}2:{letter}{MAX_ROW}", rule)
    if "level" in index:
        typed = sqref(runs(columns, keep=True))
        for level in (Level.RED, Level.YELLOW, Level.BLUE):
            rule = Rule(
                type="expression",
                formula=[_level_test(level, ref("level"))],
                dxf=DifferentialStyle(font=Font(color=LEVEL_TEXT[level]), fill=solid(LEVEL_FILL[level])),
            )
            cf.add(typed, rule)


def _list_validation(items: Sequence[str], prompt_en: str, prompt_zh: str, lang: str) -> DataValidation:
    dv = DataValidation(
        type="list",
        formula1='"' + ",".join(items) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorStyle="stop",
    )
    _messages(dv, prompt_en, prompt_zh, lang)
    return dv


def _messages(dv: DataValidation, prompt_en: str, prompt_zh: str, lang: str) -> None:
    if lang == "zh":
        dv.errorTitle, dv.error = "输入无效", prompt_zh
    else:
        dv.errorTitle, dv.error = "Invalid entry", prompt_en


def validation_for(column: Column, lang: str, lookups: dict[str, str]) -> DataValidation | None:
    """The drop-down or check for a typed column, or None (text, computed columns)."""
    if column.computed:
        return None
    if column.key in lookups:
        dv = DataValidation(type="list", formula1=lookups[column.key], allow_blank=True, errorStyle="warning")
        dv.showErrorMessage = True
        _messages(dv, "Not in the list on the Routing sheet.", "不在“分派规则”表的列表中。", lang)
        return dv
    if column.type is ColType.ENUM and column.enum is not None:
        labels = [m.label(lang) for m in column.enum]  # type: ignore[attr-defined]
        return _list_validation(
            labels, "Choose from the list: " + ", ".join(labels), "请从列表中选择：" + "、".join(labels), lang
        )
    if column.type is ColType.BOOL:
        labels = list(BOOL_LABELS[lang])
        return _list_validation(labels, "Choose Y or N.", "请选择“是”或“否”。", lang)
    if column.type in (ColType.DATETIME, ColType.DATE):
        # 36526 = 2000-01-01; "decimal" accepts a date with a time of day
        dv = DataValidation(
            type="decimal",
            operator="greaterThanOrEqual",
            formula1="36526",
            allow_blank=True,
            errorStyle="stop",
        )
        dv.showErrorMessage = True
        _messages(
            dv,
            "Type a date (and time), e.g. 2026-03-02 09:10.",
            "请输入日期（时间），如 2026-03-02 09:10。",
            lang,
        )
        return dv
    if column.type is ColType.INT:
        dv = DataValidation(
            type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True, errorStyle="stop"
        )
        dv.showErrorMessage = True
        _messages(dv, "Type a whole number.", "请输入整数。", lang)
        return dv
    return None


def add_validations(ws: object, columns: Sequence[Column], lang: str, lookups: dict[str, str]) -> None:
    """One data validation per typed column, from row 2 to the last row."""
    for index, column in enumerate(columns, 1):
        dv = validation_for(column, lang, lookups)
        if dv is None:
            continue
        letter = get_column_letter(index)
        dv.add(f"{letter}2:{letter}{MAX_ROW}")
        ws.data_validations.append(dv)  # type: ignore[attr-defined]


def range_lookup(sheet_title: str, column_index: int, rows: int = 200) -> str:
    """A drop-down source on another sheet, e.g. '分派规则'!$B$2:$B$200."""
    letter = get_column_letter(column_index)
    return f"{quote_sheetname(sheet_title)}!${letter}$2:${letter}${rows + 1}"
