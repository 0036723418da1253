"""The tickets a macro works on (the selected rows) and the department heads of the Routing sheet."""

from __future__ import annotations

from addin.messages import listing, say
from addin.run import Run
from addin.sheet import MacroError, said, selected_rows, selection
from complaints.model import Ticket
from complaints.routing import RoutingTable, head_rule


def selected_tickets(run: Run) -> list[Ticket] | None:
    """Tickets on the selected rows of the Tickets sheet; None when the selection is elsewhere."""
    chosen = selection(run.book)
    grid = run.data.tickets_grid
    if chosen is None or chosen[0].casefold() != grid.title.casefold():
        return None
    rows: set[int] = set()
    end = len(grid.values)
    for first, last in selected_rows(chosen[1]):
        rows.update(range(first - 1, min(end, last if last is not None else end)))
    return [t for t in run.data.tickets if run.data.row_of(t) in rows]


def routing_table(run: Run) -> RoutingTable:
    """The Routing sheet's table; `MacroError` naming what is wrong with the sheet."""
    problems = run.data.routing_problems
    if problems:
        raise MacroError(say("routing_invalid", error=listing([said(p) for p in problems])))
    return RoutingTable.from_rules(run.data.routes)


def department_head(table: RoutingTable | None, ticket: Ticket) -> str:
    """The name of the head responsible for the ticket (`complaints.routing.head_rule`), or ""."""
    rule = head_rule(table, ticket) if table is not None else None
    return rule.head if rule is not None else ""
