"""Read an uploaded branch workbook file into domain tickets, tasks and log entries — everything, or nothing.

The file passes the zip guard, is opened with calamine (fast) or openpyxl
(reference), and its rows go to the one row reader, `complaints.rows`, as an
import: every required cell filled, no event in the future, milestones in
order. Every problem it finds (naming sheet, row, column and header) is raised
in one `WorkbookError`; a partial import is never returned. Computed columns
(status, flags, deadlines) are read as they stand, for round trips.
"""

from __future__ import annotations

import io
import logging
import os
from datetime import datetime
from typing import BinaryIO

from complaints.rows import BranchWorkbook, ReadPolicy, read_book
from server.xlsx.errors import WorkbookError
from server.xlsx.grid import open_grid
from server.xlsx.zipguard import Source, ZipLimits, check_zip

logger = logging.getLogger(__name__)


def read_workbook(
    source: Source, *, now: datetime, engine: str = "calamine", limits: ZipLimits | None = None
) -> BranchWorkbook:
    """Read a branch workbook (.xlsx path, bytes or binary file) or raise `WorkbookError` with every problem.

    ``now`` (aware) is the instant after which no recorded event may lie.
    ``engine`` is "calamine" (fast, default) or "openpyxl" (pure Python reference).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    inventory = check_zip(source, limits)
    handle: str | BinaryIO
    if isinstance(source, bytes | bytearray):
        handle = io.BytesIO(source)
    elif isinstance(source, str | os.PathLike):
        handle = os.fspath(source)
    else:
        handle = source
    with open_grid(handle, inventory.formula_parts, engine) as grid:
        book = read_book(grid.titles, grid.rows, epoch=grid.epoch, policy=ReadPolicy(now=now, complete=True))
    problems = [*book.problems, *book.routing_problems]
    if problems:
        raise WorkbookError(problems, book.settings.language)
    logger.info(
        "read %d tickets, %d tasks, %d log entries (%d new sync keys)",
        len(book.tickets),
        len(book.tasks),
        len(book.log),
        len(book.new_keys),
    )
    return book


__all__ = ["BranchWorkbook", "read_workbook"]
