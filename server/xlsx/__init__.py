"""Branch workbooks with openpyxl and python-calamine: template, reader, writer, zip guard.

- `build_workbook` / `new_workbook`: a new branch workbook (``flask workbook new``).
- `read_workbook`: a branch workbook -> tickets, tasks, log entries; every problem or nothing.
- `write_workbook`: records back into an existing workbook, leaving the user's own content alone.
- `check_zip`: the guard every file passes before a spreadsheet library opens it.
"""

from server.xlsx.errors import Problem, UnsafeWorkbookError, WorkbookError
from server.xlsx.reader import BranchWorkbook, read_workbook
from server.xlsx.template import build_workbook, deadline_cells, new_workbook
from server.xlsx.writer import WriteReport, write_workbook
from server.xlsx.zipguard import ZipLimits, check_zip

__all__ = [
    "BranchWorkbook",
    "Problem",
    "UnsafeWorkbookError",
    "WorkbookError",
    "WriteReport",
    "ZipLimits",
    "build_workbook",
    "check_zip",
    "deadline_cells",
    "new_workbook",
    "read_workbook",
    "write_workbook",
]
