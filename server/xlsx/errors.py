"""The errors of reading or writing a workbook file: every problem found (`complaints.problems.Problem`)."""

from __future__ import annotations

from collections.abc import Iterable

from complaints.problems import Problem

MAX_SHOWN = 20
"""How many problems an exception's message lists before it says "and N more"."""


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
