"""The Sync button: push the workbook's edited rows, pull the server's changes into it.

One Sync is a series of round trips: tickets in chunks, then tasks and log
entries in chunks (the first of them with the last chunk of tickets), so each
reaches the server after the ticket it belongs to and no request nears the
server's limit of 10,000 rows a list, however big the workbook's first Sync. Each answer is applied
to the workbook in memory at once, so a failure halfway keeps what was done;
everything is written at the end in blocks. A request left unanswered by a
network failure is kept in ``_sync`` and sent again first, with the same
Idempotency-Key, at the next Sync.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

from addin.messages import Message, listing, plain, say
from addin.run import Run
from addin.sheet import MacroError
from addin.sync_client import (
    Pending,
    SyncFailure,
    SyncState,
    Transport,
    Unreachable,
    fingerprint,
    new_request,
    send,
)
from complaints.cells import write_cell
from complaints.conflicts import conflict_cells
from complaints.model import Task, Ticket
from complaints.schema import CONFLICTS, LOG, TASKS, TICKETS, Column, Sheet
from complaints.wire import (
    EDITABLE,
    log_from_json,
    push_log,
    push_task,
    push_ticket,
    task_fields,
    task_from_json,
    ticket_fields,
    ticket_from_json,
)

CHUNK = 1_000
"""Tickets, tasks and log entries per request, each (the server takes 10,000 rows a list and 16 MB)."""


SHEET_OF = {"tickets": TICKETS, "tasks": TASKS, "log": LOG}
"""The sheet each kind of pushed row comes from."""


def _chunks(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """``items`` in requests of at most `CHUNK` (one empty chunk when there are none)."""
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)] or [[]]


def _part(chunks: list[list[dict[str, Any]]], k: int) -> list[dict[str, Any]]:
    return chunks[k] if 0 <= k < len(chunks) else []


class SyncSession:
    """The in-memory workbook during one Sync, and what to tell the user at the end."""

    def __init__(self, run: Run, transport: Transport) -> None:
        self.run = run
        self.transport = transport
        self.state = SyncState(run.state)
        data = run.data
        self.tickets: dict[str, Ticket] = {t.sync_key: t for t in data.tickets}
        self.tasks: dict[str, Task] = {t.sync_key: t for t in data.tasks}
        self.log_keys = {e.sync_key for e in data.log}
        self.added_tickets = 0
        self.added_tasks = 0
        self.conflict_rows: dict[str, int] = {}
        """Conflict id -> its row on the Conflicts sheet (the ones read, then the ones added)."""
        if "conflicts" in data.grids:
            grid = data.grids["conflicts"]
            for r in range(grid.first, len(grid.values)):
                value = grid.value(r, "conflict_id")
                if value not in (None, ""):
                    self.conflict_rows[str(int(value)) if isinstance(value, float) else str(value)] = r
        self.sent = self.created = self.tasks_sent = self.log_sent = 0
        self.received: set[str] = set()
        self.conflicts = 0
        self.renumbered: list[Message] = []
        self.rejected: list[Message] = []

    # --- requests ------------------------------------------------------------------------

    def requests(self) -> Iterator[Pending]:
        """The requests that carry every unsynced row (at least one, to pull)."""
        state = self.state
        tickets = []
        for ticket in self.tickets.values():
            fields = ticket_fields(ticket)
            if state.ticket_print(ticket.sync_key) != fingerprint(fields):
                tickets.append(push_ticket(ticket))
        keys = {t.ticket_id: t.sync_key for t in self.tickets.values()}
        tasks = []
        for task in self.tasks.values():
            fields = task_fields(task)
            known, digest = state.task(task.sync_key)  # _sync's version serves books without the column
            if digest != fingerprint(fields) and task.ticket_id in keys:
                tasks.append(push_task(task, keys[task.ticket_id], known))
        log = [
            push_log(e, keys[e.ticket_id])
            for e in self.run.data.log
            if not state.log_sent(e.sync_key) and e.ticket_id in keys and e.text.strip()
        ]
        ticket_chunks, task_chunks, log_chunks = _chunks(tickets), _chunks(tasks), _chunks(log)
        after = len(ticket_chunks) - 1  # tasks and log entries start with the last chunk of tickets
        for n in range(after + max(len(task_chunks), len(log_chunks))):
            k = n - after  # the chunk of tasks and log entries this request carries (negative: none yet)
            body = {"cursor": state.cursor, "branch": self.run.data.settings.branch,
                    "tickets": ticket_chunks[n] if n <= after else [],
                    "tasks": _part(task_chunks, k), "log": _part(log_chunks, k)}  # fmt: skip
            yield new_request(body)

    def round(self, request: Pending) -> None:
        """Send one request and apply its answer; on failure keep it in _sync if it may be resent."""
        self.state.pending = request
        try:
            response = send(self.transport, request, self.run.env.user or "excel")
        except SyncFailure as exc:
            if not exc.kept:
                self.state.pending = None
            raise
        self.state.pending = None
        self.apply(json.loads(request.body), response)

    # --- answers -------------------------------------------------------------------------

    def apply(self, body: dict[str, Any], response: dict[str, Any]) -> None:
        pushed, pulled = response["pushed"], response["pulled"]
        rejected = pushed.get("rejected", {})
        refused = {r.get("sync_key") for kind in ("tickets", "tasks", "log") for r in rejected.get(kind, [])}
        for kind in ("tickets", "tasks", "log"):
            sheet = SHEET_OF[kind]
            for item in rejected.get(kind, []):
                errors = "; ".join(
                    f"{self._header(sheet, e.get('field', ''))}: {e.get('message', '')}"
                    for e in item.get("errors", [])
                )
                label = self._label(kind, item.get("sync_key"))
                self.rejected.append(plain(f"{label}: {errors}"))
        for item in body["tickets"]:
            if item["sync_key"] not in refused:
                self.state.set_ticket_print(item["sync_key"], fingerprint(item["fields"]))
                self.sent += 1
        for item in body["tasks"]:
            if item["sync_key"] not in refused:
                self.state.set_task(item["sync_key"], item["base_version"] or 1, fingerprint(item["fields"]))
                self.tasks_sent += 1
        for item in body["log"]:
            if item["sync_key"] not in refused:
                self.state.mark_log(item["sync_key"])
                self.log_sent += 1
        stale = []
        for outcome in pushed.get("tickets", []):
            self.created += bool(outcome.get("created"))
            if outcome.get("renumbered_from"):
                self.renumbered.append(plain(f"{outcome['renumbered_from']} → {outcome['ticket_id']}"))
            if outcome.get("conflicts"):
                stale.append(outcome["sync_key"])
        rows = [r for r in pulled.get("tickets", []) if r["sync_key"] not in refused]
        arrived = {r["sync_key"] for r in rows}
        rows += self._fetch([key for key in stale if key not in arrived])
        for row in rows:
            self.pull_ticket(row)
        for row in pulled.get("tasks", []):
            if row["sync_key"] not in refused:
                self.pull_task(row)
        for row in pulled.get("log", []):
            self.pull_log(row)
        self.pull_conflicts(pulled.get("conflicts", []))
        self.state.cursor = int(pulled.get("cursor", self.state.cursor))

    def _header(self, sheet: Sheet, key: str) -> str:
        """The column a refused field is typed in, as the workbook names it."""
        return sheet.column(key).header(self.run.lang) if key in sheet.keys else key

    def _label(self, kind: str, key: Any) -> str:
        if kind == "tickets" and key in self.tickets:
            return self.tickets[key].ticket_id
        if kind == "tasks" and key in self.tasks:
            return f"{self.tasks[key].ticket_id} #{self.tasks[key].task_no}"
        return str(key)

    def _fetch(self, keys: list[str]) -> list[dict[str, Any]]:
        """Current server rows of tickets whose push met a conflict (a conflict alone is not in the pull)."""
        rows = []
        for key in keys:
            try:
                reply = self.transport.request("GET", f"/api/tickets/{key}")
            except Unreachable:
                continue
            if reply.status == 200 and isinstance(reply.data, dict):
                rows.append(reply.data["ticket"])
        return rows

    def pull_ticket(self, row: dict[str, Any]) -> None:
        run = self.run
        new = ticket_from_json(row, run.data.settings.branch)
        old = self.tickets.get(new.sync_key)
        if old is None:
            r = run.writer("tickets").next_rows(1, self.added_tickets)[0]
            self.added_tickets += 1
        else:
            r = run.data.ticket_rows[new.sync_key]
            if old.ticket_id != new.ticket_id:
                self._renumber(old.ticket_id, new.ticket_id)
        if old is None or any(getattr(old, k) != getattr(new, k) for k in EDITABLE):
            self.received.add(new.sync_key)
        run.save(r, old, new)
        self.tickets[new.sync_key] = new
        self.state.set_ticket_print(new.sync_key, fingerprint(ticket_fields(new)))

    def _renumber(self, old_id: str, new_id: str) -> None:
        """The server renumbered a ticket: its tasks and log entries follow it."""
        run = self.run
        for key, task in list(self.tasks.items()):
            if task.ticket_id == old_id:
                self.tasks[key] = dataclasses.replace(task, ticket_id=new_id)
                if key in run.data.task_rows:
                    run.writer("tasks").set(run.data.task_rows[key], "ticket_id", new_id)
        if "log" in run.data.grids:
            grid = run.data.grids["log"]
            for r in range(grid.first, len(grid.values)):
                if grid.value(r, "ticket_id") == old_id:
                    run.writer("log").set(r, "ticket_id", new_id)
        run.data.log = [dataclasses.replace(e, ticket_id=new_id) if e.ticket_id == old_id else e
                        for e in run.data.log]  # fmt: skip

    def pull_task(self, row: dict[str, Any]) -> None:
        run = self.run
        if "tasks" not in run.data.grids:
            return
        task = task_from_json(row)
        writer = run.writer("tasks")
        r = run.data.task_rows.get(task.sync_key)
        if r is None:
            r = writer.next_rows(1, self.added_tasks)[0]
            self.added_tasks += 1
            run.data.task_rows[task.sync_key] = r
            writer.grow_table(r)
        for column in TASKS.columns:
            writer.set(r, column.key, self._cell(column, getattr(task, column.key)))
        self.tasks[task.sync_key] = task
        self.state.set_task(task.sync_key, int(row.get("version") or 1), fingerprint(task_fields(task)))

    def pull_log(self, row: dict[str, Any]) -> None:
        if row["sync_key"] in self.log_keys:
            self.state.mark_log(row["sync_key"])
            return
        entry = log_from_json(row)
        self.run.add_log([entry])
        self.log_keys.add(entry.sync_key)
        self.state.mark_log(entry.sync_key)

    def pull_conflicts(self, conflicts: list[dict[str, Any]]) -> None:
        run = self.run
        if not conflicts or "conflicts" not in run.data.grids:
            return
        writer = run.writer("conflicts")
        known = self.conflict_rows
        for conflict in conflicts:
            cid = str(conflict["id"])
            if conflict.get("resolved"):
                if cid in known:
                    for column in CONFLICTS.columns:
                        writer.set(known[cid], column.key, None)
                continue
            if cid in known:
                continue
            r = writer.next_rows(1, self.conflicts)[0]
            known[cid] = r
            self.conflicts += 1
            cells = conflict_cells(conflict, run.lang, run.data.settings.zone)
            for key, value in cells.items():
                writer.set(r, key, value)

    def _cell(self, column: Column, value: object) -> object:
        return write_cell(column, value, self.run.lang, self.run.data.settings.zone)

    # --- the end -------------------------------------------------------------------------

    def finish(self) -> None:
        """Make the Tickets table hold appended rows; write the sync keys made for rows typed without one.

        The keys are written even when a request failed: it may have reached the
        server, and its resend must not meet the same rows under new keys.
        """
        run = self.run
        if self.added_tickets:
            run.writer("tickets").grow_table(max(run.data.ticket_rows.values()))
        for kind, rows in (("tickets", run.data.ticket_rows), ("tasks", run.data.task_rows),
                           ("log", run.data.log_rows)):  # fmt: skip
            for key in run.data.new_keys & rows.keys():
                run.writer(kind).set(rows[key], "sync_key", key)

    def summary(self, resent: bool) -> Message:
        message = say(
            "sync_done",
            sent=self.sent,
            created=self.created,
            tasks=self.tasks_sent,
            log=self.log_sent,
            received=len(self.received),
        )
        if resent:
            message += say("sync_resent")
        if self.conflicts:
            message += say(
                "sync_conflicts", count=self.conflicts, sheet=self.run.data.grids["conflicts"].title
            )
        if self.renumbered:
            message += say("sync_renumbered", list=listing(self.renumbered, "、"))
        if self.rejected:
            message += say("sync_rejected", count=len(self.rejected), list=listing(self.rejected))
        return message


def sync(run: Run, transport: Transport) -> Message:
    """Run a whole Sync on ``run``'s workbook; return the message for the user (errors: `MacroError`)."""
    settings = run.data.settings
    if run.env.branch and settings.branch and run.env.branch != settings.branch:
        raise MacroError(say("sync_wrong_branch", book=settings.branch, token=run.env.branch))
    session = SyncSession(run, transport)
    pending = session.state.pending
    try:
        if pending is not None:
            session.round(pending)
        for request in session.requests():
            session.round(request)
    except SyncFailure as exc:
        session.finish()
        run.flush()
        raise MacroError(exc.message) from exc
    session.finish()
    run.state["last_sync"] = run.now.astimezone(settings.zone).strftime("%Y-%m-%d %H:%M:%S")
    return session.summary(pending is not None)
