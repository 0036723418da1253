"""Problems found in a branch workbook, each naming its sheet, row and column, in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass


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
            text = ""
            if self.sheet is not None:
                text += f"工作表「{self.sheet}」"
            if self.row is not None:
                text += f"第 {self.row} 行"
            if self.column is not None:
                text += (" " if self.row is not None else "") + f"{self.column} 列"
            if self.header:
                text += f"（{self.header}）"
            return text
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
