"""Problems found in a workbook, each naming its sheet, row and column, in Chinese and English."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_SHOWN = 20
"""How many problems an exception's message lists before it says "and N more"."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: where it is (sheet title, Excel row number, column letter, header) and what is wrong."""

    en: str
    zh: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    header: str | None = None

    def where(self, lang: str = "zh") -> str:
        """The location as a person reads it, e.g. ``Sheet 'Tickets', row 12, column C (Channel)``."""
        if lang == "zh":
            parts = []
            if self.sheet is not None:
                parts.append(f"工作表「{self.sheet}」")
            if self.row is not None:
                parts.append(f"第 {self.row} 行")
            if self.column is not None:
                parts.append(f"{self.column} 列")
            if self.header:
                parts.append(f"（{self.header}）")
            return " ".join(parts)
        parts = []
        if self.sheet is not None:
            parts.append(f"Sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}" + (f" ({self.header})" if self.header else ""))
        elif self.header:
            parts.append(f"({self.header})")
        return ", ".join(parts)

    def text(self, lang: str = "zh") -> str:
        """The problem in one language, prefixed by its location."""
        message = self.zh if lang == "zh" else self.en
        where = self.where(lang)
        if not where:
            return message
        return f"{where}：{message}" if lang == "zh" else f"{where}: {message}"

    def __str__(self) -> str:
        return f"{self.text('zh')} | {self.text('en')}"


class WorkbookError(Exception):
    """A workbook that cannot be read or written; carries every problem found, row by row."""

    def __init__(self, problems: Iterable[Problem], lang: str = "zh") -> None:
        self.problems: list[Problem] = list(problems)
        self.lang = lang
        super().__init__(self.summary())

    def summary(self, lang: str | None = None, limit: int = MAX_SHOWN) -> str:
        """Every problem (up to ``limit``) on its own line, in ``lang`` and, by default, both languages."""
        lines = []
        for p in self.problems[:limit]:
            lines.append(p.text(lang) if lang else str(p))
        rest = len(self.problems) - limit
        if rest > 0:
            lines.append(f"……另有 {rest} 个问题 | … and {rest} more problems")
        return "\n".join(lines)


class UnsafeWorkbookError(WorkbookError):
    """A file refused before parsing: not a zip, too large, too compressed, or XML with entities."""
