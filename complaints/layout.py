"""Find our sheets and columns in a workbook, whatever the language, order or extra columns.

Sheets are found by their zh or en title, columns by their zh or en header (or
key), in any order, in the first rows of a sheet (`HEADER_SEARCH_ROWS`).
Columns the schema does not know are the user's own and are left alone —
unless a header looks like a misspelling of one of ours that is missing, which
is reported. Every engine's reader and writer finds its columns here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from complaints.problems import Problem
from complaints.schema import Column, Sheet, sheet_by_title

HEADER_SEARCH_ROWS = 10
"""The header is the first of this many rows that holds at least two of our headers."""
LOOKALIKE = 0.75
"""How alike (difflib ratio) an unknown header must be to a missing one to be taken for a misspelling."""

_SPACES = re.compile(r"\s+")


def column_letter(position: int) -> str:
    """The letters of 0-based column ``position`` (0 -> A, 26 -> AA)."""
    letters = ""
    number = position + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def normalise_header(value: object) -> str:
    """A header cell as text with runs of blanks (also line breaks) made single spaces."""
    if value is None:
        return ""
    return _SPACES.sub(" ", str(value)).strip()


@dataclass(slots=True)
class Layout:
    """Where one schema sheet's columns are in a worksheet."""

    sheet: Sheet
    title: str
    header_row: int = 1
    """The Excel row number of the header."""
    index: dict[str, int] = field(default_factory=dict)
    """Column key -> 0-based position in the row."""
    headers: dict[str, str] = field(default_factory=dict)
    """Column key -> the header text as it stands in the workbook."""
    lang: str = "zh"
    """The language most headers are in."""

    def letter(self, key: str) -> str | None:
        position = self.index.get(key)
        return None if position is None else column_letter(position)

    def header(self, key: str) -> str:
        """Column ``key``'s header as the workbook shows it (the schema's, if the sheet lacks the column)."""
        return self.headers.get(key) or self.sheet.column(key).header(self.lang)

    def problem(self, en: str, zh: str, key: str | None = None, row: int | None = None) -> Problem:
        """A problem about column ``key`` (or the whole row, or the sheet) of this sheet."""
        if key is None:
            return Problem(en, zh, sheet=self.title, row=row)
        return Problem(en, zh, sheet=self.title, row=row, column=self.letter(key), header=self.header(key))


def find_sheets(titles: Iterable[str]) -> tuple[dict[str, str], list[Problem]]:
    """Schema sheet key -> the workbook's title for it; two sheets for one key is a problem."""
    found: dict[str, str] = {}
    problems = []
    for title in titles:
        sheet = sheet_by_title(title)
        if sheet is None:
            continue
        if sheet.key in found:
            problems.append(
                Problem(
                    f"two sheets hold {sheet.en}: '{found[sheet.key]}' and '{title}'; keep one",
                    f"有两个工作表都是“{sheet.zh}”：「{found[sheet.key]}」和「{title}」，请只保留一个",
                    sheet=title,
                )
            )
            continue
        found[sheet.key] = title
    return found, problems


def missing_sheet(sheet: Sheet, titles: Iterable[str]) -> Problem:
    """The problem for a workbook without ``sheet``, naming the sheets it has."""
    names = list(titles)
    return Problem(
        f"No '{sheet.en}' sheet (Chinese: '{sheet.zh}'). Sheets in this workbook: {', '.join(names)}. "
        f"If it was renamed, rename it back to '{sheet.en}' or '{sheet.zh}'. A complaint ledger of the "
        "branch's own is brought in with 'flask --app server ledger import' or on the portal's ledger page.",
        f"找不到“{sheet.zh}”工作表（英文名“{sheet.en}”）。现有工作表：{'、'.join(names)}。"
        f"如果改过名，请改回“{sheet.zh}”或“{sheet.en}”。本网点原有的投诉台账请用 "
        "flask --app server ledger import 或门户的“导入历史台账”页面导入。",
    )


def find_layout(
    sheet: Sheet, title: str, head: Sequence[Sequence[object]]
) -> tuple[Layout | None, list[Problem]]:
    """Where ``sheet``'s columns are, from its first rows; None and the problems if they are unclear."""
    header_row = header_row_of(sheet, head)
    if header_row is None:
        return None, [header_problem(sheet, title)]
    layout, problems = map_columns(sheet, title, header_row, head[header_row - 1])
    return (None if problems else layout), problems


def _matches(sheet: Sheet, cells: Sequence[object]) -> int:
    return sum(1 for v in cells if v and isinstance(v, str) and sheet.match_header(normalise_header(v)))


def header_row_of(sheet: Sheet, head: Sequence[Sequence[object]]) -> int | None:
    """The Excel row number of the header among the first rows (row 1 first), or None."""
    for number, cells in enumerate(head[:HEADER_SEARCH_ROWS], start=1):
        if _matches(sheet, cells) >= min(2, len(sheet.columns)):
            return number
    return None


def map_columns(
    sheet: Sheet, title: str, header_row: int, cells: Sequence[object]
) -> tuple[Layout, list[Problem]]:
    """Map the header cells to schema columns; report duplicates, lookalikes and missing required columns."""
    layout = Layout(sheet, title, header_row)
    problems: list[Problem] = []
    unknown: list[tuple[int, str]] = []
    zh = en = 0
    for position, value in enumerate(cells):
        text = normalise_header(value)
        if not text:
            continue
        column = sheet.match_header(text)
        if column is None:
            unknown.append((position, text))
            continue
        letter = column_letter(position)
        if column.key in layout.index:
            first = layout.letter(column.key)
            problems.append(
                Problem(
                    f"column '{text}' appears twice (also column {first}); delete one",
                    f"“{text}”列重复出现（另见 {first} 列），请删除其一",
                    sheet=title,
                    row=header_row,
                    column=letter,
                    header=text,
                )
            )
            continue
        layout.index[column.key] = position
        layout.headers[column.key] = text
        zh += text.casefold() == column.zh.casefold()
        en += text.casefold() == column.en.casefold()
    layout.lang = "en" if en > zh else "zh"
    missing = [c for c in sheet.columns if c.key not in layout.index]
    for position, text in unknown:
        guess = _lookalike(text, missing)
        if guess is None:
            continue
        missing.remove(guess)
        problems.append(
            Problem(
                f"unknown column '{text}': did you mean '{guess.zh}' / '{guess.en}'? "
                "Rename the header (or rename your own column to something else)",
                f"无法识别的列“{text}”：是否应为“{guess.header('zh')}”？请改正表头（如为自建列请换一个名称）",
                sheet=title,
                row=header_row,
                column=column_letter(position),
                header=text,
            )
        )
    for column in missing:
        if column.required and not column.computed:
            problems.append(
                Problem(
                    f"required column '{column.header(layout.lang)}' is missing; add it to the header row",
                    f"缺少必需的列“{column.zh}”，请在表头行补上",
                    sheet=title,
                    row=header_row,
                    header=column.header(layout.lang),
                )
            )
    return layout, problems


def _lookalike(text: str, candidates: Sequence[Column]) -> Column | None:
    wanted = text.casefold()
    best: tuple[float, Column] | None = None
    for column in candidates:
        for name in (column.zh, column.en, column.key):
            ratio = difflib.SequenceMatcher(None, wanted, name.casefold()).ratio()
            if ratio >= LOOKALIKE and (best is None or ratio > best[0]):
                best = (ratio, column)
    return best[1] if best else None


def header_problem(sheet: Sheet, title: str) -> Problem:
    """The problem for a sheet whose header row cannot be found."""
    first = sheet.columns[0]
    return Problem(
        f"no header row found in the first {HEADER_SEARCH_ROWS} rows (expected e.g. '{first.en}')",
        f"前 {HEADER_SEARCH_ROWS} 行中找不到表头（应含如“{first.zh}”）",
        sheet=title,
    )
