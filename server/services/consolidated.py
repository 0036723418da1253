"""The head-office consolidated workbook: the chosen branches' tickets of a period, KPIs and analysis.

Used by ``GET /api/consolidated``, the dashboard's download, ``flask --app
server consolidate`` and the monthly report. The tickets are read by
`server.storage.consolidated` in runs of the All sheet, each run encoded by a
`server.xlsx.consolidate.RowEncoder` — on a pool of worker processes (each with
its own database connection) for large exports — and written by
`server.xlsx.consolidate.ConsolidatedWorkbook`, followed by the figures of
`server.services.analysis` (the same as the dashboard's, each defined once in
`complaints.figures`) and the per-staff KPIs of `server.services.people`.

Tickets are those of the chosen branches *received* in the period (each
branch's local days); each ticket sheet lists the tickets of its
`complaints.selections.Selection` — the same that the dashboard's lists and
figures use (the All sheet lists cancelled tickets too, the others do not);
flags are as of the last flag scan.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from complaints.periods import Period
from complaints.sla import DEFAULT_TZ
from server.services import appeals
from server.services.analysis import Analysis, analyse, branch_zones
from server.services.people import staff_figures
from server.storage.consolidated import (
    Run,
    Scope,
    count_selected,
    count_up_to,
    plan_runs,
    run_rows,
    scope_of,
)
from server.storage.db import Database
from server.xlsx.bulk import EXCEL_ROWS, EncodedRows
from server.xlsx.consolidate import TICKET_SHEETS, ConsolidatedWorkbook, RowEncoder
from server.xlsx.zipstream import LIMIT

CHUNK_ROWS = 5_000
"""Rows per run (one task for a worker process)."""
PARALLEL_FROM = 20_000
"""Ticket rows from which worker processes pay off (starting them takes about a second)."""


@dataclass(frozen=True)
class ConsolidateOptions:
    """What to export: branches (None: all), the period (local days), language, phone visibility."""

    branches: tuple[str, ...] | None
    period: Period
    lang: str = "zh"
    show_phones: bool = False
    """Whether contact numbers are shown in full (admin); otherwise masked, e.g. 138****8000."""
    generated_at: datetime | None = None
    timezone: str = DEFAULT_TZ
    """Where ``generated_at`` is shown (each branch's tickets are placed in its own local days)."""
    calendar_path: str | None = None
    row_limit: int = EXCEL_ROWS
    """Rows per sheet part, header included (tests use a small limit)."""
    byte_limit: int = LIMIT
    workers: int | None = None
    """Worker processes for the ticket sheets; None: two when there are many rows, 0: none."""
    chunk_rows: int = CHUNK_ROWS

    def __post_init__(self) -> None:
        if self.lang not in ("zh", "en"):
            raise ValueError(f"language {self.lang!r} is not zh or en")


@dataclass
class Summary:
    """What a build wrote: rows per ticket sheet, the sheet titles in tab order, the analysis."""

    rows: dict[str, int] = field(default_factory=dict)
    titles: list[str] = field(default_factory=list)
    analysis: Analysis | None = None


def parse_branches(text: str) -> tuple[str, ...] | None:
    """ "SZ01, GZ01" → ("SZ01", "GZ01"); empty → None (every branch)."""
    codes = tuple(dict.fromkeys(c.strip() for c in text.split(",") if c.strip()))
    return codes or None


def count_rows(db: Database, options: ConsolidateOptions) -> int:
    """Ticket rows the workbook will have (all ticket sheets), for a progress bar.

    Raises `server.services.analysis.UnknownBranchError` for an unknown branch code.
    """
    with db.read() as session:
        zones = branch_zones(session, options.branches)
        scope = scope_of(session, zones, options.period)
        return count_selected(session, scope, [spec.selection for spec in TICKET_SHEETS])


def build_consolidated(
    db: Database,
    target: IO[bytes],
    options: ConsolidateOptions,
    *,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Write the consolidated workbook to ``target`` (a file or a stream; no seeking needed).

    ``progress(n)`` is called as ``n`` more ticket rows are written.
    Raises `server.services.analysis.UnknownBranchError` for an unknown branch code.
    """
    book = ConsolidatedWorkbook(
        target,
        options.lang,
        options.show_phones,
        row_limit=options.row_limit,
        byte_limit=options.byte_limit,
        branches=options.branches,
        period=options.period,
    )
    summary = Summary()
    with db.read() as session:
        zones = branch_zones(session, options.branches)
        scope = scope_of(session, zones, options.period)
        workers = options.workers
        if workers is None:
            workers = 2 if count_up_to(session, scope, PARALLEL_FROM) >= PARALLEL_FROM else 0
        runs = plan_runs(session, scope, max(1, min(options.chunk_rows, options.row_limit - 1)))
        encoded = _encoded(runs, workers, db, scope, book.encoder_args)
        summary.rows = book.write_ticket_sheets(encoded, progress)
        summary.analysis = analyse(session, list(zones), options.period, calendar_path=options.calendar_path)
        lines = appeals.register(session, options.branches, options.lang, not options.show_phones)
        staff = staff_figures(session, list(zones), options.period, options.calendar_path)
    register = (appeals.HEADERS[options.lang], [line.cells() for line in lines])
    summary.titles = book.finish(summary.analysis, options.generated_at, options.timezone, register, staff)
    return summary


class _Encoding:
    """Reads a run's rows and encodes them, in this process or in a worker process (its own connection)."""

    def __init__(self, db: Database | str, scope: Scope, *encoder_args: Any) -> None:
        self.db = Database(db) if isinstance(db, str) else db
        self.scope = scope
        self.encoder = RowEncoder(*encoder_args)

    def encode(self, run: Run) -> dict[str, EncodedRows]:
        with self.db.read() as session:
            rows = run_rows(session, self.scope, run, self.encoder.keys)
            return self.encoder.encode(run.code, run.zone, rows)


_worker: _Encoding | None = None


def _start_worker(*args: Any) -> None:
    global _worker
    _worker = _Encoding(*args)


def _run_in_worker(run: Run) -> dict[str, EncodedRows]:
    assert _worker is not None
    return _worker.encode(run)


def _encoded(
    runs: Iterable[Run], workers: int, db: Database, scope: Scope, encoder_args: tuple[Any, ...]
) -> Iterator[dict[str, EncodedRows]]:
    """Each run's encoded rows, in order; workers run a few runs ahead (bounded memory).

    Workers open their own database by URL.
    """
    if workers == 0:
        encoding = _Encoding(db, scope, *encoder_args)
        for run in runs:
            yield encoding.encode(run)
        return
    context = multiprocessing.get_context("spawn")  # never fork a threaded web server
    with context.Pool(workers, initializer=_start_worker, initargs=(db.url, scope, *encoder_args)) as pool:
        ahead: deque[Any] = deque()
        for run in runs:
            ahead.append(pool.apply_async(_run_in_worker, (run,)))
            if len(ahead) >= 2 * workers:
                yield ahead.popleft().get()
        while ahead:
            yield ahead.popleft().get()
