"""One macro run: the environment it runs in, the workbook read once, the writes, the message at the end."""

from __future__ import annotations

import getpass
import logging
import os
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, wraps
from typing import Any

from addin.blocks import SheetWriter, engine_prepare, write_key_values
from addin.messages import TITLE, Message, listing, say
from addin.painted import Painted
from addin.sheet import BranchBook, MacroError, read_branch, sheet_missing
from addin.sync_client import Transport
from complaints.calendar import WorkCalendar, load_calendar
from complaints.cells import format_flags, write_cell
from complaints.colours import LEVEL_FILL
from complaints.enums import Flag
from complaints.flags import Evaluation, evaluate
from complaints.levels import reason_in
from complaints.model import LogEntry, Task, Ticket
from complaints.schema import LOG, SYNC, TICKETS
from complaints.sla import SlaClock, SlaPolicy
from complaints.textcheck import missing_information
from complaints.wire import DEADLINE_COLUMNS

logger = logging.getLogger(__name__)

COMPUTED_TICKET_KEYS = tuple(c.key for c in TICKETS.columns if c.computed)
TYPED_TICKET_KEYS = tuple(c.key for c in TICKETS.columns if not c.computed)


@cache
def default_calendar() -> WorkCalendar:
    """The holiday calendar, with the operator's overrides from ``$COMPLAINTS_CALENDAR`` if set."""
    return load_calendar(os.environ.get("COMPLAINTS_CALENDAR"))


@dataclass(frozen=True)
class Env:
    """What a macro needs besides the workbook: the time, who presses the button, the server.

    On the desktop `Env.local` fills it from the PC; behind the server the remote
    endpoint passes its clock, the token's user and branch, and an in-process
    transport; tests pass everything explicitly.
    """

    now: datetime
    user: str = ""
    transport: Transport | None = None
    """How Sync and Pull consolidated reach the server; None: HTTP with the user's token file."""
    branch: str | None = None
    """The branch of the caller's token, when known (remote mode): Sync refuses another branch's book."""
    calendar: WorkCalendar | None = None

    @classmethod
    def local(cls) -> Env:
        """The environment of a macro run from desktop Excel."""
        return cls(now=datetime.now(UTC), user=f"{getpass.getuser()}@{socket.gethostname()}")

    @property
    def work_calendar(self) -> WorkCalendar:
        return self.calendar or default_calendar()


def alert(book: Any, message: Message, lang: str | None, critical: bool = False) -> None:
    """Show ``message`` in the workbook's language (both languages when it is not known yet)."""
    text = message.text(lang) if lang else f"{message.zh}\n\n{message.en}"
    title = TITLE[lang] if lang else f"{TITLE['zh']} / {TITLE['en']}"
    book.app.alert(text, title=title, buttons="ok", mode="critical" if critical else "info")


def macro(work: Callable[[Run], Message | None]) -> Callable[..., None]:
    """Turn ``work(run)`` into a macro ``f(book, env=None)``: read, work, write, tell the user.

    A `MacroError` is shown as a critical alert and nothing is written.
    """

    @wraps(work)
    def run_macro(book: Any, env: Env | None = None) -> None:
        env = env or Env.local()
        lang: str | None = None
        try:
            run = Run(book, env)
            lang = run.lang
            message = work(run)
            restored = run.restored()
            run.flush()
        except MacroError as exc:
            alert(book, exc.message, lang, critical=True)
            return
        if restored is not None:
            message = restored if message is None else message + restored
        if message is not None:
            alert(book, message, lang)

    return run_macro


@dataclass
class Run:
    """The workbook read once, the rules' clock, and the writers that collect changes."""

    book: Any
    env: Env
    data: BranchBook = field(init=False)
    clock: SlaClock = field(init=False)
    writers: dict[str, SheetWriter] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.data = read_branch(self.book)
        self.clock = SlaClock(self.env.work_calendar, SlaPolicy(tz=self.data.settings.timezone))
        self.prepare = engine_prepare(self.book)
        self._tasks: dict[str, list[Task]] | None = None
        self._log: dict[str, list[LogEntry]] | None = None
        self.log_added = 0
        self._painted: Painted | None = None
        self.state = dict(self.data.sync_values)
        """The _sync sheet's key/value rows; written back at the end if changed."""

    @property
    def lang(self) -> str:
        return self.data.lang

    @property
    def now(self) -> datetime:
        return self.env.now

    def writer(self, key: str) -> SheetWriter:
        if key not in self.writers:
            self.writers[key] = SheetWriter(self.data.grids[key], self.prepare)
        return self.writers[key]

    def flush(self) -> int:
        """Write every collected change; return the number of actions."""
        self._remember()
        actions = sum(w.flush() for w in self.writers.values())
        if self.state != self.data.sync_values:
            grid = self.data.grids.get("sync")
            actions += write_key_values(self.book, grid, SYNC.title(self.lang), self.state, self.prepare)
        return actions

    # --- what was painted and written on each row (addin.painted) ------------------------------

    @property
    def painted(self) -> Painted:
        if self._painted is None:
            self._painted = Painted.load(self.state)
        return self._painted

    def _computed_columns(self) -> list[int]:
        grid = self.data.tickets_grid
        return sorted(grid.index[k] for k in COMPUTED_TICKET_KEYS if k in grid.index)

    def _final_key(self, r: int) -> object:
        writer, grid = self.writer("tickets"), self.data.tickets_grid
        c = grid.index.get("sync_key")
        return None if c is None else writer.value_at(r, c)

    def paint(self, colours: dict[int, str]) -> None:
        """Colour rows by level; with a memory of what was painted, only the rows whose colour changes."""
        writer, memory, first = self.writer("tickets"), self.painted, self.data.tickets_grid.first
        if memory.known:
            todo = {
                r: rgb for r, rgb in colours.items() if memory.colour(r - first, self._final_key(r)) != rgb
            }
            if len(todo) <= len(colours) // 2:
                for r, rgb in todo.items():
                    writer.fill(r, rgb)
                return
        writer.fill_all(colours)

    def restored(self) -> Message | None:
        """The grey cells someone overwrote that this run puts back, named by ticket and column."""
        writer = self.writers.get("tickets")
        memory = self.painted
        if writer is None or not memory.known:
            return None
        grid = self.data.tickets_grid
        columns = self._computed_columns()
        key_column = grid.index.get("sync_key")
        lines = []
        for r in sorted({r for r, c in writer.changes if c in writer.computed}):
            raw_key = grid.raw(r, key_column) if key_column is not None else None
            if memory.untouched(r - grid.first, raw_key, [grid.raw(r, c) for c in columns]) is not False:
                continue
            names = [
                grid.values[grid.header][c]
                for c in columns
                if (r, c) in writer.changes and grid.raw(r, c) not in (None, "")
            ]
            if names:
                ticket = grid.value(r, "ticket_id")
                shown = [str(n) for n in names]
                lines.append(Message(f"{ticket}：{'、'.join(shown)}", f"{ticket}: {', '.join(shown)}"))
        return say("restored", count=len(lines), list=listing(lines)) if lines else None

    def _remember(self) -> None:
        writer = self.writers.get("tickets")
        if writer is None:
            return
        rows = {r for r, _ in writer.changes} | set(writer.fills)
        base = writer.base_fill
        if base is not None:
            rows |= set(range(base[0], base[1] + 1))
        first = self.data.tickets_grid.first
        rows = {r for r in rows if r >= first}
        if not rows:
            return
        memory, columns = self.painted, self._computed_columns()
        for r in sorted(rows):
            rgb = writer.fills.get(r) or (base[2] if base is not None and base[0] <= r <= base[1] else None)
            memory.set(r - first, rgb, self._final_key(r), [writer.value_at(r, c) for c in columns])
        memory.store(self.state)

    # --- rules -------------------------------------------------------------------------------

    def tasks_of(self, ticket: Ticket) -> list[Task]:
        if self._tasks is None:
            self._tasks = defaultdict(list)
            for task in self.data.tasks:
                self._tasks[task.ticket_id].append(task)
        return self._tasks.get(ticket.ticket_id, [])

    def log_of(self, ticket: Ticket) -> list[LogEntry]:
        if self._log is None:
            self._log = defaultdict(list)
            for entry in self.data.log:
                self._log[entry.ticket_id].append(entry)
        return self._log.get(ticket.ticket_id, [])

    def evaluate(self, ticket: Ticket) -> Evaluation:
        return evaluate(ticket, self.clock, self.now, self.tasks_of(ticket), self.log_of(ticket))

    # --- writing tickets and log entries ----------------------------------------------------

    def cell(self, key: str, value: object) -> object:
        if key == "level_reason" and isinstance(value, str):
            value = reason_in(value, self.lang)  # the rules' reasons in the workbook's language
        return write_cell(TICKETS.column(key), value, self.lang, self.data.settings.zone)

    def save(self, r: int, old: Ticket | None, new: Ticket, result: Evaluation | None = None) -> Evaluation:
        """Write ``new`` into Tickets row ``r``: typed cells that changed from ``old``, every computed cell.

        The row is coloured when its level changed (or it is new).
        """
        result = result or self.evaluate(new)
        writer = self.writer("tickets")
        for key in TYPED_TICKET_KEYS:
            value = getattr(new, key)
            if old is None or getattr(old, key) != value:
                writer.set(r, key, self.cell(key, value))
        new.status, new.flags = result.status, result.flags
        for key in COMPUTED_TICKET_KEYS:
            if key in DEADLINE_COLUMNS:
                value = getattr(result.deadlines, DEADLINE_COLUMNS[key])
            elif key == "flags":
                missing = missing_information(new) if Flag.INFO_INCOMPLETE in result.flags else []
                writer.set(r, key, format_flags(result.flags, self.lang, missing) or None)
                continue
            else:
                value = getattr(new, key)
            writer.set(r, key, self.cell(key, value))
        if old is None or old.level is not new.level:
            writer.fill(r, LEVEL_FILL[new.level])
        self.data.ticket_rows[new.sync_key] = r
        return result

    def add_log(self, entries: list[LogEntry]) -> None:
        """Append entries to the Log sheet (one block; the Log table grows to hold them)."""
        if not entries:
            return
        if "log" not in self.data.grids:
            raise sheet_missing(self.book, LOG)
        writer = self.writer("log")
        zone, lang = self.data.settings.zone, self.lang
        rows = writer.next_rows(len(entries), self.log_added)
        for r, entry in zip(rows, entries, strict=True):
            for column in LOG.columns:
                writer.set(r, column.key, write_cell(column, getattr(entry, column.key), lang, zone))
        writer.grow_table(rows[-1])
        self.log_added += len(entries)
        self.data.log.extend(entries)
        self._log = None
