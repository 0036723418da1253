"""The process group of the ribbon: one button per step of the standard, and Check wording.

A step button works on the selected Tickets rows: the values it needs are the
row's own cells, typed before the click (the extension's reason and new date,
the feedback's cause, solution and safeguards, the revisit's satisfaction, the
objection's new demand, the cancellation's reason). The rules are
`complaints.steps` (order, content, stamping) and `complaints.pipeline.settle`
(levels, status, deadlines, flags); if any selected row cannot take the step,
nothing is written and the message says why for each.
"""

from __future__ import annotations

from collections.abc import Callable

from addin.messages import Message, listing, plain, say
from addin.reports import WORDING_TITLE, wording_block, write_report
from addin.run import Run, macro
from addin.sheet import MacroError, selected_rows, selection
from addin.targets import department_head, routing_table, selected_tickets
from complaints.levels import REMEDIES, assess
from complaints.model import LogEntry, Ticket
from complaints.pipeline import settle
from complaints.schema import TICKETS
from complaints.steps import STEP_NAMES, Step, StepRefused, due_text, next_due, take
from complaints.textcheck import ReplyIssue, check_reply

WORDING_COLUMNS = ("cause", "solution", "safeguards", "extension_reason")
"""Texts the customer hears or reads: the feedback and the reason given for an extension."""


def _name(step: Step) -> Message:
    zh, en = STEP_NAMES[step]
    return Message(zh, en)


def _next(ticket: Ticket, run: Run) -> Message:
    nxt = next_due(ticket, run.clock)
    if nxt.step is None:
        return say("next_none")
    due_zh, due_en = due_text(nxt.due, run.clock)
    if nxt.until is not None:
        until_zh, until_en = due_text(nxt.until, run.clock)
        return say(
            "next_window",
            step=_name(nxt.step),
            start=Message(due_zh, due_en),
            end=Message(until_zh, until_en),
        )
    if due_zh:
        return say("next_due", step=_name(nxt.step), due=Message(due_zh, due_en))
    return say("next_step", step=_name(nxt.step))


def _remedy(ticket: Ticket) -> Message:
    remedy = REMEDIES[ticket.grade]
    return say("remedy", grade=Message(ticket.grade.zh, ticket.grade.en), zh=remedy.zh, en=remedy.en)


def _wording(ticket: Ticket) -> Message | None:
    found = [(key, issue) for key in WORDING_COLUMNS for issue in check_reply(getattr(ticket, key))]
    if not found:
        return None
    items = [
        Message(
            f"“{TICKETS.column(key).zh}”中的“{issue.phrase}”",
            f"'{issue.phrase}' in {TICKETS.column(key).en}",
        )
        for key, issue in found
    ]
    return say("step_wording", list=listing(items, "、"))


def _take_step(run: Run, step: Step) -> Message:
    chosen = selected_tickets(run)
    grid = run.data.tickets_grid
    if not chosen:
        raise MacroError(say("step_no_selection", sheet=grid.title, step=_name(step)))
    taken: list[tuple[Ticket, Ticket, list[LogEntry]]] = []
    refused: list[Message] = []
    for ticket in chosen:
        try:
            changed, log = take(step, ticket, run.now, run.env.user, run.clock)
        except StepRefused as exc:
            refused.append(Message(f"{ticket.ticket_id}：{exc.zh}", f"{ticket.ticket_id}: {exc.en}"))
            continue
        taken.append((ticket, changed, log))
    if refused:
        raise MacroError(say("step_refused", step=_name(step), list=listing(refused)))
    table = None if run.data.routing_problems else routing_table(run)
    replaced = {ticket.sync_key: changed for ticket, changed, _ in taken}
    assessments = assess([replaced.get(t.sync_key, t) for t in run.data.tickets])
    entries: list[LogEntry] = []
    lines: list[Message] = []
    for ticket, changed, log in taken:
        settled = settle(
            None,
            changed,
            now=run.now,
            clock=run.clock,
            by=run.env.user,
            head=department_head(table, changed),
            assessment=assessments[changed.sync_key],
            tasks=run.tasks_of(ticket),
            progress=[*run.log_of(ticket), *log],
        )
        result = run.save(run.data.row_of(ticket), ticket, settled.ticket, settled.evaluation)
        entries += [*log, *settled.log]
        line = say("step_line", ticket=ticket.ticket_id, next=_next(settled.ticket, run))
        if settled.ticket.reopened_at != ticket.reopened_at and settled.ticket.reopened_at is not None:
            line += say("step_reopened", level=Message(settled.ticket.level.zh, settled.ticket.level.en))
        if step in (Step.ACKNOWLEDGE, Step.PLAN):
            line += _remedy(settled.ticket)
        if step is Step.EXTENSION and result.deadlines.extension_error == "":
            due_zh, due_en = due_text(result.deadlines.plan, run.clock)
            line += say("step_extended", due=Message(due_zh, due_en))
        if step is Step.FEEDBACK:
            warning = _wording(settled.ticket)
            if warning is not None:
                line += warning
        lines.append(line)
    run.add_log(entries)
    when = run.now.astimezone(run.data.settings.zone).strftime("%Y-%m-%d %H:%M")
    return say("step_done", step=_name(step), count=len(lines), at=when, list=listing(lines))


def _button(step: Step) -> Callable[..., None]:
    def work(run: Run) -> Message:
        return _take_step(run, step)

    work.__name__ = work.__qualname__ = step.value
    work.__doc__ = f"Record the step '{STEP_NAMES[step][1]}' on the selected rows (complaints.steps)."
    return macro(work)


acknowledge = _button(Step.ACKNOWLEDGE)
plan = _button(Step.PLAN)
extension = _button(Step.EXTENSION)
resolve = _button(Step.RESOLVE)
feedback = _button(Step.FEEDBACK)
close = _button(Step.CLOSE)
revisit = _button(Step.REVISIT)
objection = _button(Step.OBJECTION)
cancel = _button(Step.CANCEL)


# --- check wording -------------------------------------------------------------------------------


def _selected_texts(run: Run) -> list[tuple[str, str, str]]:
    """(ticket or cell, column or "", text) of what the user asked to check."""
    chosen = selection(run.book)
    grid = run.data.tickets_grid
    if chosen is None:
        return []
    if chosen[0].casefold() == grid.title.casefold():
        tickets = selected_tickets(run) or []
        return [
            (t.ticket_id, TICKETS.column(key).header(run.lang), getattr(t, key))
            for t in tickets
            for key in WORDING_COLUMNS
            if getattr(t, key).strip()
        ]
    sheet = run.book.sheets[chosen[0]]
    texts: list[tuple[str, str, str]] = []
    for area in chosen[1].replace("$", "").split(","):
        values = sheet.range(area).options(ndim=2).value
        first = selected_rows(area)
        top = first[0][0] if first else 1
        for i, row in enumerate(values):
            for value in row:
                if isinstance(value, str) and value.strip():
                    texts.append((f"{chosen[0]}!{area}", f"{top + i}", value))
    return texts


@macro
def check_wording(run: Run) -> Message:
    """Lint the feedback texts of the selected rows (or the selected cells) for negative or vague promises."""
    texts = _selected_texts(run)
    if not texts:
        raise MacroError(say("wording_nothing", sheet=run.data.tickets_grid.title))
    found: list[tuple[str, str, str, ReplyIssue]] = [
        (where, column, text, issue) for where, column, text in texts for issue in check_reply(text)
    ]
    rows, formats = wording_block(found, run.lang)
    title = write_report(run.book, run.prepare, WORDING_TITLE, run.lang, rows, formats)
    if not found:
        return say("wording_clean", count=len(texts), sheet=title)
    items = [plain(f"{where}：“{issue.phrase}” → {issue.suggestion}") for where, _, _, issue in found]
    return say("wording_found", count=len(found), texts=len(texts), sheet=title, list=listing(items))


STEP_MACROS: dict[str, Callable[..., None]] = {
    **{step.value: globals()[step.value] for step in Step},
    "check_wording": check_wording,
}
"""Ribbon tag -> macro of the process group."""
