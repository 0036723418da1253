"""The Group button (群体处理): a group incident handled as one, in the branch workbook.

On a selected Tickets row of a group incident, the button applies that row's
plan (its text and time), its compensation decision and its latest progress
update to every member of the group (`complaints.groups`), then settles each
changed member with the rules of every door (`complaints.pipeline.settle`). The
next Sync carries the members' changes to the server like any other edit.
"""

from __future__ import annotations

from addin.messages import Message, listing, plain, say
from addin.run import Run, macro
from addin.sheet import MacroError
from addin.targets import department_head, routing_table, selected_tickets
from complaints.enums import LogKind
from complaints.groups import GroupError, apply_compensation, apply_plan, broadcast, live_members
from complaints.levels import assess
from complaints.model import LogEntry, Ticket
from complaints.pipeline import settle


def _decisions(run: Run, source: Ticket) -> tuple[list[Ticket], list[LogEntry], list[Message]]:
    """The members ``source``'s group changes, the progress entries it adds, and what was applied."""
    members = live_members(run.data.tickets, source.group_id)
    changed: dict[str, Ticket] = {}
    applied: list[Message] = []
    try:
        if source.plan.strip():
            for t in apply_plan(members, source.plan, source.plan_at or run.now):
                changed[t.sync_key] = t
            applied.append(say("group_plan"))
        if source.compensation.strip():
            current = [changed.get(t.sync_key, t) for t in members]
            for t in apply_compensation(current, source.compensation):
                changed[t.sync_key] = t
            applied.append(say("group_compensation"))
    except GroupError as exc:  # the checks above leave nothing the rules refuse; keep their word
        raise MacroError(Message(exc.zh, exc.en)) from exc
    entries: list[LogEntry] = []
    progress = [e for e in run.log_of(source) if e.kind is LogKind.PROGRESS]
    if progress:
        latest = max(progress, key=lambda e: e.at)
        missing = [t for t in members if all(e.text != latest.text for e in run.log_of(t))]
        entries = broadcast(missing, latest.text, latest.at, latest.author or run.env.user, latest.channel)
        applied.append(say("group_progress"))
    return list(changed.values()), entries, applied


@macro
def group(run: Run) -> Message:
    """Apply the selected group row's plan, compensation and latest progress to every member of its group."""
    chosen = selected_tickets(run)
    grid = run.data.tickets_grid
    if not chosen:
        raise MacroError(say("group_no_selection", sheet=grid.title))
    lone = [t.ticket_id for t in chosen if not t.group_id or t.cancelled_at is not None]
    if lone:
        raise MacroError(say("group_not_grouped", list=listing([plain(s) for s in lone], "、")))
    sources: dict[str, Ticket] = {}
    for ticket in chosen:
        if sources.setdefault(ticket.group_id, ticket) is not ticket:
            raise MacroError(say("group_one_row", group=ticket.group_id))
    changed: dict[str, Ticket] = {}
    entries: list[LogEntry] = []
    lines: list[Message] = []
    for group_id, source in sources.items():
        members, added, applied = _decisions(run, source)
        if not applied:
            raise MacroError(say("group_nothing", ticket=source.ticket_id))
        changed.update((t.sync_key, t) for t in members)
        entries += added
        count = len(live_members(run.data.tickets, group_id))
        lines.append(
            say(
                "group_line",
                group=group_id,
                count=count,
                applied=listing(applied, "、"),
                ticket=source.ticket_id,
            )
        )
    touched = set(changed) | {e.ticket_id for e in entries}
    table = None if run.data.routing_problems else routing_table(run)
    assessments = assess([changed.get(t.sync_key, t) for t in run.data.tickets])
    for ticket in run.data.tickets:
        if ticket.sync_key not in touched and ticket.ticket_id not in touched:
            continue
        new = changed.get(ticket.sync_key, ticket)
        settled = settle(
            None,
            new,
            now=run.now,
            clock=run.clock,
            by=run.env.user,
            head=department_head(table, new),
            assessment=assessments[new.sync_key],
            tasks=run.tasks_of(ticket),
            progress=[*run.log_of(ticket), *(e for e in entries if e.ticket_id == ticket.ticket_id)],
        )
        run.save(run.data.row_of(ticket), ticket, settled.ticket, settled.evaluation)
        entries += settled.log
    run.add_log(entries)
    return say("group_done", count=len(lines), list=listing(lines))
