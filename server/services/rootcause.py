"""Setting a ticket's root cause and its improvement measure on the server (the dashboard's form).

The values go through the same policy and rules as a sync push: each value is
checked (`complaints.validation.check_values`), the ticket as a whole too (the
offered fishbone categories, a measure described; `check_ticket`), then the one
door settles it (`server.services.sync.commit`: the measure's status and done
time, the recurrence of its cause, its effect, the flags) and writes it with
its history; the branch's next pull brings it in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from complaints.model import Ticket, revised
from complaints.validation import check_ticket, check_values
from complaints.wire import COLUMNS
from server.services.changes import Change, Proposal
from server.services.errors import Invalid
from server.services.sync import Pending, commit, offered_categories
from server.storage.rows import read_tickets, ticket_of

EDITABLE: tuple[str, ...] = (
    "fishbone",
    "root_cause",
    "improvement",
    "measure_owner",
    "measure_due",
    "measure_status",
    "measure_done_at",
)
"""What the root-cause form changes."""


def set_root_cause(change: Change, sync_key: str, values: Mapping[str, Any]) -> Ticket:
    """Set the fields of `EDITABLE` in ``values`` (domain values) on the ticket; returns it as stored."""
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise Invalid("not_editable", f"not a root-cause field: {', '.join(unknown)}", {"fields": unknown})
    problems = check_values(values, COLUMNS, change.now)
    row = read_tickets(change.session, [sync_key], lock=True)[sync_key]
    before = ticket_of(row, change.branch.code)
    after = revised(before, **values)
    offered = offered_categories()
    known = {(p.field, p.en) for p in check_ticket(before, offered)}
    problems += [p for p in check_ticket(after, offered) if (p.field, p.en) not in known]
    if problems:
        first = problems[0]
        raise Invalid("invalid_value", f"{first.en} / {first.zh}", {"field": first.field})
    written = {o.key: o for o in commit(change, Pending(proposals={sync_key: Proposal(row, before, after)}))}
    return written[sync_key].ticket if sync_key in written else before
