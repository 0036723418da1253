"""The ribbon's macros: plain functions over an xlwings ``Book``, one per button.

Each reads the workbook once (`addin.sheet`), applies the rules of
`complaints`, writes what changed in blocks (`addin.blocks`) and tells the user
what it did in the workbook's language. The same functions run

* in desktop Excel: ``RunPython "import addin.macros as m; m.run_caller('route')"``
  (`run_caller`, with ``xw.Book.caller()``);
* behind the server: ``POST /xlwings/<macro>`` on the project's own engine over
  the payload the client sends (server/remote/engine.py), for Excel on the web
  and PCs without Python (xlwings PRO's engine is an option);
* in the tests, through the same engine (the payload harness).

Call ``escalate(book)`` or ``escalate(book, Env(now=...))``.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from addin import syncing
from addin.blocks import engine_prepare
from addin.dossier import dossier
from addin.group import group
from addin.messages import Message, listing, plain, say
from addin.reports import (
    REPORT_TITLES,
    REVISIT_TITLE,
    SUMMARY_TITLE,
    RevisitRow,
    export_formats,
    export_sheets,
    revisit_block,
    summary_block,
    write_report,
)
from addin.run import Env, Run, alert, macro
from addin.sheet import MacroError
from addin.steps import STEP_MACROS
from addin.sync_client import Transport, Unreachable, http_transport
from addin.targets import department_head, routing_table, selected_tickets
from complaints.colours import LEVEL_FILL
from complaints.enums import Flag, Level
from complaints.ids import next_ticket_id
from complaints.kpis import compute_kpis
from complaints.levels import LevelError, assess
from complaints.levels import deescalate as lower_level
from complaints.levels import escalate as raise_level
from complaints.model import LogEntry, Ticket
from complaints.periods import Period
from complaints.pipeline import settle
from complaints.routing import RoundRobin, RoutingError, route_many
from complaints.schema import sheet_by_title
from complaints.sla import DEFAULT_TZ, PENDING, extension_problem_labels
from complaints.textcheck import vague_description

ROUND_ROBIN = "round_robin"
"""The _sync key holding Route's round-robin cursor (department -> last investigator)."""

DUE_SOON: dict[Flag, str] = {
    Flag.ACK_DUE_SOON: "acknowledge",
    Flag.PLAN_DUE_SOON: "plan",
    Flag.DEPT_FEEDBACK_DUE_SOON: "dept_feedback",
    Flag.RESOLVE_DUE_SOON: "resolve",
    Flag.FEEDBACK_DUE_SOON: "feedback",
}
"""Due-soon warnings and the deadline each one is about."""


# --- helpers ------------------------------------------------------------------------------------


def shown(moment: object, run: Run) -> str:
    if isinstance(moment, datetime):
        return moment.astimezone(run.data.settings.zone).strftime("%Y-%m-%d %H:%M")
    return say("pending_calendar").text(run.lang) if moment == PENDING else ""


def transport_for(env: Env, server_url: str) -> Transport:
    """The server connection: the environment's (remote mode, tests), else HTTPS with the user's token."""
    return env.transport or http_transport(server_url)


# --- new ticket, route ------------------------------------------------------------------------


@macro
def new_ticket(run: Run) -> Message:
    """Add a ticket row: the next number of today, received now, blue; the cursor on its first empty cell."""
    settings = run.data.settings
    if not settings.branch:
        raise MacroError(say("settings_branch"))
    today = run.now.astimezone(settings.zone).date()
    try:
        number = next_ticket_id(settings.branch, today, [t.ticket_id for t in run.data.tickets])
    except ValueError:
        raise MacroError(say("settings_branch")) from None
    ticket = Ticket(number, run.now.replace(microsecond=0), branch=settings.branch)
    writer = run.writer("tickets")
    r = writer.next_rows(1)[0]
    run.save(r, None, ticket)
    writer.grow_table(r)
    grid = run.data.tickets_grid
    if run.book.sheets.active.name != grid.title:
        grid.xl.activate()
    grid.xl.range((r + 1, grid.index.get("channel", 0) + 1)).select()
    received = shown(ticket.received_at, run)
    return say("new_ticket", ticket=number, row=r + 1, received=received)


def _open(ticket: Ticket) -> bool:
    return ticket.cancelled_at is None and ticket.resolved_at is None


@macro
def route(run: Run) -> Message:
    """Route the selected rows (or, with no ticket row selected, every unrouted ticket)."""
    chosen = selected_tickets(run)
    targets = chosen or run.data.tickets
    waiting = [t for t in targets if t.routed_at is None and _open(t)]
    skipped = [t.ticket_id for t in chosen or [] if t not in waiting]
    if not waiting:
        message = say("route_nothing")
        if skipped:
            message += say(
                "route_skipped", count=len(skipped), list=listing([plain(s) for s in skipped], "、")
            )
        raise MacroError(message)
    table = routing_table(run)
    counts = Counter(t.investigator for t in run.data.tickets if t.investigator and _open(t))
    cursor = RoundRobin(_cursor(run.state.get(ROUND_ROBIN, "")))
    try:
        routings = route_many(waiting, table, counts, run.now, cursor)
    except RoutingError as exc:
        raise MacroError(say("route_failed", error=exc)) from exc
    lines = []
    for ticket, routing in zip(waiting, routings, strict=True):
        routed = routing.apply(dataclasses.replace(ticket))
        due = run.clock.deadlines(routed).dept_feedback
        if routed.dept_feedback_due is None and isinstance(due, datetime):
            routed.dept_feedback_due = due
        run.save(run.data.row_of(ticket), ticket, routed)
        lines.append(
            say(
                "route_line",
                ticket=ticket.ticket_id,
                department=routed.department,
                investigator=routed.investigator,
                due=shown(due, run),
            )
        )
    run.state[ROUND_ROBIN] = json.dumps(cursor.last, ensure_ascii=False, sort_keys=True)
    message = say("route_done", count=len(lines), list=listing(lines))
    if skipped:
        message += say("route_skipped", count=len(skipped), list=listing([plain(s) for s in skipped], "、"))
    return message


def _cursor(text: str) -> dict[str, str]:
    try:
        last = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}  # a damaged cursor only restarts the rotation
    return {str(k): str(v) for k, v in last.items()} if isinstance(last, dict) else {}


# --- escalate, de-escalate -----------------------------------------------------------------------

_ACTIONS = {True: ("升级", "escalate", "Escalated"), False: ("降级", "de-escalate", "De-escalated")}


def _change_level(run: Run, up: bool) -> Message:
    zh, en, done = _ACTIONS[up]
    chosen = selected_tickets(run)
    grid = run.data.tickets_grid
    if not chosen:
        raise MacroError(say("no_selection", sheet=grid.title, action=zh, action_en=en))
    empty = [t.ticket_id for t in chosen if not t.level_reason.strip()]
    if empty:
        column = grid.header_text("level_reason")
        items = listing([plain(s) for s in empty], "、")
        raise MacroError(say("reason_missing", column=column, action=zh, list=items))
    stuck = [t for t in chosen if t.level is (Level.RED if up else Level.BLUE)]
    if stuck:
        reasons = [say("already_red" if up else "already_blue", ticket=t.ticket_id) for t in stuck]
        raise MacroError(say("level_refused", action=zh, action_en=en, list=listing(reasons, "；")))
    table = routing_table(run)
    change = raise_level if up else lower_level
    lines, headless, entries = [], [], []
    for ticket in chosen:
        head = department_head(table, ticket)
        try:
            changed, _record, entry = change(ticket, ticket.level_reason, run.env.user, run.now, head)
        except LevelError as exc:  # the checks above make this unreachable; keep the rule's word
            raise MacroError(plain(str(exc))) from exc
        run.save(run.data.row_of(ticket), ticket, changed)
        entries.append(entry)
        if not head:
            headless.append(ticket.ticket_id)
        lines.append(
            say(
                "level_line",
                ticket=ticket.ticket_id,
                old=Message(ticket.level.zh, ticket.level.en),
                new=Message(changed.level.zh, changed.level.en),
                head=say("level_head", head=head) if head else "",
            )
        )
    run.add_log(entries)
    message = say("level_done", action=zh, action_en=done, count=len(lines), list=listing(lines))
    if headless:
        message += say("level_no_head", list=listing([plain(s) for s in headless], "、"))
    return message


@macro
def escalate(run: Run) -> Message:
    """Raise the selected tickets one level, with the reason typed in their reason cell; tell the head."""
    return _change_level(run, up=True)


@macro
def deescalate(run: Run) -> Message:
    """Lower the selected tickets one level, with the reason typed in their reason cell (audited in Log)."""
    return _change_level(run, up=False)


# --- check deadlines, revisit list, monthly summary ------------------------------------------------


@macro
def check_deadlines(run: Run) -> Message:
    """Recompute status, flags, deadlines and rule-based levels of every ticket, offline."""
    # a broken Routing sheet must not stop the flags; heads are then unnamed
    table = None if run.data.routing_problems else routing_table(run)
    tickets = run.data.tickets
    entries: list[LogEntry] = []
    assessments = assess(tickets)
    zone = run.data.settings.zone
    today = run.now.astimezone(zone).date()
    overdue = due_today = soon = pending = 0
    raised: list[Message] = []
    revisited: list[Message] = []
    disorder: list[Message] = []
    vague: list[Message] = []
    extensions: list[Message] = []
    colours: dict[int, str] = {}
    for ticket in tickets:
        r = run.data.row_of(ticket)
        # the rules of every door (`complaints.pipeline`): offline there is no stored copy to compare with
        settled = settle(
            None,
            ticket,
            now=run.now,
            clock=run.clock,
            by=run.env.user,
            head=department_head(table, ticket),
            assessment=assessments[ticket.sync_key],
            tasks=run.tasks_of(ticket),
            progress=run.log_of(ticket),
        )
        changed = settled.ticket
        result = run.save(r, ticket, changed, settled.evaluation)
        colours[r] = LEVEL_FILL[changed.level]
        entries += settled.log
        if changed.reopened_at != ticket.reopened_at:
            revisited.append(plain(ticket.ticket_id))
        if changed.level is not ticket.level:
            raised.append(
                Message(
                    f"{ticket.ticket_id}（{changed.level.zh}）", f"{ticket.ticket_id} ({changed.level.en})"
                )
            )
        flags = result.flags
        if result.deadlines.extension_error:
            zh, en = extension_problem_labels(result.deadlines.extension_error)
            extensions.append(Message(f"{ticket.ticket_id}：{zh}", f"{ticket.ticket_id}: {en}"))
        if Flag.VAGUE_DESCRIPTION in flags:
            vague.append(_follow_ups(changed))
        overdue += any(f.is_overdue for f in flags)
        pending += Flag.PENDING_CALENDAR in flags
        if result.errors:
            disorder.append(plain(ticket.ticket_id))
        deadlines = result.deadlines.as_dict()
        today_due = any(
            isinstance(deadlines[name], datetime) and deadlines[name].astimezone(zone).date() == today
            for flag, name in DUE_SOON.items()
            if flag in flags
        ) or (
            Flag.TASK_DUE_SOON in flags
            and any(t.due == today and t.done_at is None for t in run.tasks_of(ticket))
        )
        due_today += today_due
        soon += not today_due and any(f.value.endswith("_SOON") for f in flags)
    run.paint(colours)
    run.add_log(entries)
    message = say("check_done", count=len(tickets), overdue=overdue, today=due_today, soon=soon)
    if raised:
        message += say("check_raised", count=len(raised), list=listing(raised, "、"))
    if revisited:
        message += say("check_reopened", count=len(revisited), list=listing(revisited, "、"))
    if vague:
        message += say("check_vague", count=len(vague), list=listing(vague))
    if extensions:
        message += say("check_extension", count=len(extensions), list=listing(extensions))
    if pending:
        message += say("check_pending", count=pending)
    if disorder:
        message += say("check_order", count=len(disorder), list=listing(disorder, "、"))
    return message


def _follow_ups(ticket: Ticket) -> Message:
    """The questions to ask the customer whose description is vague, in both languages."""
    asked = vague_description(ticket.description)
    return Message(
        f"{ticket.ticket_id}（“{asked[0].trigger}”）：" + "；".join(q.question_zh for q in asked),
        f"{ticket.ticket_id} ('{asked[0].trigger}'): " + " ".join(q.question_en for q in asked),
    )


@macro
def revisit_list(run: Run) -> Message:
    """List the closed tickets whose revisit window is open or past, on the Revisit list sheet."""
    items = []
    for ticket in run.data.tickets:
        result = run.evaluate(ticket)
        due = {Flag.REVISIT_DUE, Flag.REVISIT_OVERDUE} & result.flags
        start, end = result.deadlines.revisit_from, result.deadlines.revisit_until
        if due and isinstance(start, datetime) and isinstance(end, datetime):
            items.append(RevisitRow(ticket, Flag.REVISIT_OVERDUE in due, start, end))
    rows, formats = revisit_block(items, run.lang, run.data.settings.zone)
    title = write_report(run.book, run.prepare, REVISIT_TITLE, run.lang, rows, formats)
    return say("revisit_done", count=len(items), overdue=sum(i.overdue for i in items), sheet=title)


def month_bounds(now: datetime, zone: Any) -> tuple[datetime, datetime]:
    local = now.astimezone(zone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return start, start.replace(year=year, month=month)


@macro
def monthly_summary(run: Run) -> Message:
    """This month's type distribution and KPIs of the branch, on the Monthly summary sheet."""
    start, end = month_bounds(run.now, run.data.settings.zone)
    kpis = compute_kpis(run.data.tickets, Period.month(start.year, start.month), run.clock)
    month = f"{start:%Y-%m}"
    heading = f"{run.data.settings.branch} {month} {SUMMARY_TITLE[run.lang]}".strip()
    rows, formats = summary_block(heading, kpis, run.lang)
    title = write_report(run.book, run.prepare, SUMMARY_TITLE, run.lang, rows, formats, header_row=2)
    return say("summary_done", month=month, sheet=title)


# --- sync, pull consolidated ---------------------------------------------------------------------


@macro
def sync(run: Run) -> Message:
    """Push the edited rows and pull the server's changes (see `addin.syncing`)."""
    return syncing.sync(run, transport_for(run.env, run.data.settings.server_url))


def book_language(book: Any) -> str:
    """English when the workbook already has one of our sheets under an English title."""
    english = {t["en"].casefold() for t in REPORT_TITLES}
    for sheet in book.sheets:
        schema = sheet_by_title(sheet.name)
        name = sheet.name.casefold()
        if name in english or (schema is not None and schema.en.casefold() == name != schema.zh.casefold()):
            return "en"
    return "zh"


def pull_consolidated(book: Any, env: Env | None = None) -> None:
    """Head office: fill the active workbook with this month's consolidated workbook from the server.

    Every sheet of the server's export (GET /api/consolidated: all branches'
    tickets, overdue, red and yellow, revisits, KPIs per branch and department,
    the monthly analysis) replaces the sheet of the same title; charts stay in
    the download.
    """
    env = env or Env.local()
    lang = book_language(book)
    try:
        message = _pull_consolidated(book, env, lang)
    except MacroError as exc:
        alert(book, exc.message, lang, critical=True)
        return
    alert(book, message, lang)


def _pull_consolidated(book: Any, env: Env, lang: str) -> Message:
    transport = env.transport or http_transport("")
    start, end = month_bounds(env.now, ZoneInfo(DEFAULT_TZ))
    period = {"start": start.date().isoformat(), "end": end.date().isoformat(), "lang": lang}
    try:
        reply = transport.request("GET", "/api/consolidated", params=period)
    except Unreachable as exc:
        raise MacroError(say("pull_unreachable", url=transport.where, error=exc)) from exc
    if reply.status in (401, 403):
        raise MacroError(say("sync_token_rejected", detail=reply.detail, path=transport.token_hint))
    if reply.status != 200:
        raise MacroError(say("sync_refused", status=reply.status, detail=reply.detail))
    prepare = engine_prepare(book)
    titles = []
    for title, rows in export_sheets(reply.content):
        titles.append(
            write_report(book, prepare, {"zh": title, "en": title}, lang, rows, export_formats(rows))
        )
    book.sheets[titles[0]].activate()
    return say("consolidated_done", month=f"{start:%Y-%m}", count=len(titles), sheet=titles[0])


# --- the RunPython entry -------------------------------------------------------------------------

MACROS: dict[str, Callable[..., None]] = {
    "new_ticket": new_ticket,
    "route": route,
    "escalate": escalate,
    "deescalate": deescalate,
    "check_deadlines": check_deadlines,
    "sync": sync,
    "revisit_list": revisit_list,
    "monthly_summary": monthly_summary,
    "pull_consolidated": pull_consolidated,
    **STEP_MACROS,
    "dossier": dossier,
    "group": group,
}
"""Ribbon tag -> macro; the tags of addin/ribbon/customUI.xml and the Office.js manifest."""


def run_caller(tag: str) -> None:
    """Run the macro of ribbon button ``tag`` on the workbook that called (desktop ``RunPython``)."""
    import xlwings as xw

    if tag not in MACROS:
        raise ValueError(f"unknown ribbon tag {tag!r}; known: {', '.join(MACROS)}")
    MACROS[tag](xw.Book.caller())


__all__ = ["MACROS", "Env", "run_caller"]
