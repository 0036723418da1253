"""The steps of the standard a coordinator records one click at a time (SUMMARY §2).

Each step stamps its milestone at ``at``, after checking that the steps it
follows are done and that the cells it needs are filled; a step that cannot be
taken raises `StepRefused`, saying why in Chinese and English. The extension's
validity is the SLA clock's (`SlaClock.plan_due`); objections, revisits and
cancellations are `lifecycle`'s. What comes next is `next_due`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from complaints.enums import LogKind, Status
from complaints.lifecycle import LifecycleError, cancel, record_objection
from complaints.model import LogEntry, Ticket
from complaints.schema import TICKETS
from complaints.sla import PENDING, Due, SlaClock, extension_problem_labels


class Step(StrEnum):
    """The buttons of the process group, by ribbon tag."""

    ACKNOWLEDGE = "acknowledge"
    PLAN = "plan"
    EXTENSION = "extension"
    RESOLVE = "resolve"
    FEEDBACK = "feedback"
    CLOSE = "close"
    REVISIT = "revisit"
    OBJECTION = "objection"
    CANCEL = "cancel"


STEP_NAMES: dict[Step, tuple[str, str]] = {
    Step.ACKNOWLEDGE: ("受理确认", "Acknowledge"),
    Step.PLAN: ("方案沟通", "Plan communicated"),
    Step.EXTENSION: ("申请延期", "Extension"),
    Step.RESOLVE: ("处理完成", "Resolved"),
    Step.FEEDBACK: ("结果反馈", "Feedback"),
    Step.CLOSE: ("结案", "Close"),
    Step.REVISIT: ("回访", "Revisit"),
    Step.OBJECTION: ("异议", "Objection"),
    Step.CANCEL: ("撤销", "Cancel"),
}
"""Chinese and English name of each step, as on its button."""

STAMP: dict[Step, str] = {
    Step.ACKNOWLEDGE: "acknowledged_at",
    Step.PLAN: "plan_at",
    Step.EXTENSION: "extension_requested_at",
    Step.RESOLVE: "resolved_at",
    Step.FEEDBACK: "feedback_at",
    Step.CLOSE: "closed_at",
    Step.REVISIT: "revisited_at",
    Step.OBJECTION: "reopened_at",
    Step.CANCEL: "cancelled_at",
}
"""The milestone each step stamps."""

AFTER: dict[Step, tuple[str, ...]] = {
    Step.PLAN: ("acknowledged_at",),
    Step.EXTENSION: ("acknowledged_at",),
    Step.RESOLVE: ("plan_at",),
    Step.FEEDBACK: ("resolved_at",),
    Step.CLOSE: ("feedback_at",),
    Step.REVISIT: ("closed_at",),
    Step.OBJECTION: ("feedback_at",),
}
"""The milestones that must be filled before a step is taken (the order of SUMMARY §2)."""

NEEDS: dict[Step, tuple[str, ...]] = {
    Step.EXTENSION: ("extension_reason", "extension_customer_informed", "extension_until"),
    Step.FEEDBACK: ("cause", "solution", "safeguards"),
    Step.REVISIT: ("satisfaction",),
    Step.OBJECTION: ("objection_demand",),
    Step.CANCEL: ("cancel_reason",),
}
"""The cells a step needs filled on its row (typed before the click)."""

ONCE_MORE: frozenset[Step] = frozenset({Step.OBJECTION})
"""Steps that may be taken again although their milestone is filled (a second objection)."""

LOG_KIND: dict[Step, LogKind] = {
    Step.ACKNOWLEDGE: LogKind.PROGRESS,
    Step.PLAN: LogKind.PROGRESS,
    Step.EXTENSION: LogKind.PROGRESS,
    Step.RESOLVE: LogKind.NOTE,
    Step.FEEDBACK: LogKind.PROGRESS,
    Step.CLOSE: LogKind.NOTE,
    Step.REVISIT: LogKind.NOTE,
}
"""The log entry of a step whose rule in `lifecycle` does not write its own."""


Taken = tuple[Ticket, list[LogEntry]]
"""A ticket after a step, and the step's log entries."""


class StepRefused(ValueError):
    """A step the ticket's state or cells do not allow; ``zh``/``en`` say why and what to do."""

    def __init__(self, ticket_id: str, zh: str, en: str) -> None:
        super().__init__(f"{ticket_id}: {en}")
        self.ticket_id, self.zh, self.en = ticket_id, zh, en


def _header(key: str) -> tuple[str, str]:
    column = TICKETS.column(key)
    return column.zh, column.en


def _filled(ticket: Ticket, key: str) -> bool:
    value = getattr(ticket, key)
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value) if isinstance(value, bool) else value is not None


def _local(moment: datetime, clock: SlaClock) -> str:
    return moment.astimezone(clock.zone).strftime("%Y-%m-%d %H:%M")


def check(step: Step, ticket: Ticket, at: datetime, clock: SlaClock) -> None:
    """Raise `StepRefused` unless ``step`` may be taken on ``ticket`` at ``at``."""
    tid = ticket.ticket_id
    zh_step, en_step = STEP_NAMES[step]
    if ticket.cancelled_at is not None:
        raise StepRefused(tid, "已撤销，不能再记录任何环节", "is cancelled; no step can be recorded")
    stamped = getattr(ticket, STAMP[step])
    if stamped is not None and step not in ONCE_MORE:
        zh_col, en_col = _header(STAMP[step])
        when = _local(stamped, clock)
        raise StepRefused(tid, f"“{zh_col}”已是 {when}，无需再次{zh_step}", f"'{en_col}' is already {when}")
    if step is Step.CANCEL and ticket.closed_at is not None:
        raise StepRefused(tid, "已结案，不能撤销", "is closed; it cannot be cancelled")
    if step is Step.EXTENSION and ticket.plan_at is not None:
        raise StepRefused(
            tid,
            "方案已沟通，延期只能在方案时限前申请",
            "the plan is communicated; an extension is for the plan",
        )
    missing = [_header(key) for key in AFTER.get(step, ()) if getattr(ticket, key) is None]
    if missing:
        zh = "、".join(f"“{zh}”" for zh, _ in missing)
        en = ", ".join(f"'{en}'" for _, en in missing)
        raise StepRefused(tid, f"须先完成{zh}，才能{zh_step}", f"{en_step} needs {en} first")
    empty = [_header(key) for key in NEEDS.get(step, ()) if not _filled(ticket, key)]
    if empty:
        zh = "、".join(f"“{zh}”" for zh, _ in empty)
        en = ", ".join(f"'{en}'" for _, en in empty)
        raise StepRefused(tid, f"请先在本行填写{zh}", f"fill in {en} on its row first")
    if step is Step.REVISIT:
        opens = clock.deadlines(ticket).revisit_from
        if isinstance(opens, datetime) and at < opens:
            n = clock.policy.revisit_from_workday
            raise StepRefused(
                tid,
                f"回访期从 {_local(opens, clock)} 开始（闭环后第 {n} 个工作日），过早回访客户情绪未平",
                f"the revisit window opens {_local(opens, clock)} (working day {n} after closure)",
            )


def take(step: Step, ticket: Ticket, at: datetime, by: str, clock: SlaClock) -> Taken:
    """Take ``step`` on ``ticket`` at ``at``: the stamped ticket and its log entries (or `StepRefused`)."""
    check(step, ticket, at, clock)
    try:
        return _TAKE[step](ticket, at, by, clock)
    except LifecycleError as exc:  # `check` makes this unreachable; keep the rule's word
        raise StepRefused(ticket.ticket_id, str(exc), str(exc)) from exc


def _stamp(step: Step, text: Callable[[Ticket], str] = lambda t: "") -> Callable[..., Taken]:
    def stamp(ticket: Ticket, at: datetime, by: str, clock: SlaClock) -> Taken:
        changed = dataclasses.replace(ticket, **{STAMP[step]: at})
        zh, en = STEP_NAMES[step]
        detail = text(changed)
        entry = LogEntry(
            ticket.ticket_id, at, LOG_KIND[step], f"{zh} / {en}" + (f": {detail}" if detail else ""), by
        )
        return changed, [entry]

    return stamp


def _extension(ticket: Ticket, at: datetime, by: str, clock: SlaClock) -> Taken:
    changed = dataclasses.replace(ticket, extension_requested_at=at)
    problems = clock.plan_due(changed)[1]
    if problems:
        zh, en = extension_problem_labels(problems)
        raise StepRefused(ticket.ticket_id, f"延期不成立：{zh}", f"the extension is refused: {en}")
    assert changed.extension_until is not None
    until = _local(changed.extension_until, clock)
    reason = changed.extension_reason.strip()
    text = f"申请延期 / Extension → {until}: {reason}（已告知客户 / customer informed）"
    return changed, [LogEntry(ticket.ticket_id, at, LOG_KIND[Step.EXTENSION], text, by)]


def _feedback_text(ticket: Ticket) -> str:
    channel = ticket.feedback_channel.strip()
    parts = [f"原因 / cause: {ticket.cause.strip()}", f"方案 / solution: {ticket.solution.strip()}"]
    parts.append(f"保障 / safeguards: {ticket.safeguards.strip()}")
    return "; ".join(parts) + (f" [{channel}]" if channel else "")


def _feedback(ticket: Ticket, at: datetime, by: str, clock: SlaClock) -> Taken:
    channel = ticket.feedback_channel.strip() or ticket.preferred_channel.strip()
    return _stamp(Step.FEEDBACK, _feedback_text)(
        dataclasses.replace(ticket, feedback_channel=channel), at, by, clock
    )


def _revisit_text(ticket: Ticket) -> str:
    assert ticket.satisfaction is not None
    text = f"{ticket.satisfaction.zh} / {ticket.satisfaction.en}"
    return text + (f"; {ticket.suggestions.strip()}" if ticket.suggestions.strip() else "")


def _objection(ticket: Ticket, at: datetime, by: str, clock: SlaClock) -> Taken:
    reopened, entry = record_objection(ticket, ticket.objection_demand, at, by)
    return reopened, [entry]


def _cancel(ticket: Ticket, at: datetime, by: str, clock: SlaClock) -> Taken:
    cancelled, entry = cancel(ticket, ticket.cancel_reason, at, by)
    return cancelled, [entry]


_TAKE: dict[Step, Callable[[Ticket, datetime, str, SlaClock], Taken]] = {
    Step.ACKNOWLEDGE: _stamp(
        Step.ACKNOWLEDGE, lambda t: "已告知客户调查已启动 / customer told the investigation started"
    ),
    Step.PLAN: _stamp(Step.PLAN),
    Step.EXTENSION: _extension,
    Step.RESOLVE: _stamp(Step.RESOLVE),
    Step.FEEDBACK: _feedback,
    Step.CLOSE: _stamp(Step.CLOSE),
    Step.REVISIT: _stamp(Step.REVISIT, _revisit_text),
    Step.OBJECTION: _objection,
    Step.CANCEL: _cancel,
}


@dataclass(frozen=True, slots=True)
class NextStep:
    """What is due next on a ticket: a step and its deadline (None: no clock; a window: ``until``)."""

    step: Step | None
    due: Due = None
    until: Due = None


def next_due(ticket: Ticket, clock: SlaClock) -> NextStep:
    """The next step of ``ticket`` and when it is due, from its status and the SLA clock."""
    deadlines = clock.deadlines(ticket)
    status = ticket.status
    if status in (Status.CANCELLED, Status.REVISITED):
        return NextStep(None)
    if status is Status.CLOSED:
        return NextStep(Step.REVISIT, deadlines.revisit_from, deadlines.revisit_until)
    if status is Status.FEEDBACK_GIVEN:
        return NextStep(Step.CLOSE)
    if status is Status.RESOLVED:
        return NextStep(Step.FEEDBACK, deadlines.feedback)
    if ticket.acknowledged_at is None:
        return NextStep(Step.ACKNOWLEDGE, deadlines.acknowledge)
    if ticket.plan_at is None:
        return NextStep(Step.PLAN, deadlines.plan)
    return NextStep(Step.RESOLVE, deadlines.resolve)


def due_text(due: Due, clock: SlaClock) -> tuple[str, str]:
    """A deadline as the messages show it, in Chinese and English."""
    if isinstance(due, datetime):
        text = _local(due, clock)
        return text, text
    if due == PENDING:
        return "待发布节假日", "pending the holiday calendar"
    return "", ""
