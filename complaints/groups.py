"""Group incidents handled as one: forgiving place names, one decision for every member, the group revisit.

A group incident (`complaints.levels._groups`: one category and place, enough
tickets within a window) is one case: a representative customer speaks for it,
it has one plan, one compensation decision, shared tasks and one progress
update, each applied to every member ticket, and it is revisited member by
member. The functions here decide what each member gets; the server's one
service and the add-in's Group button store it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache

from complaints.enums import LogKind, Satisfaction
from complaints.model import LogEntry, Task, Ticket, revised

PLACE_SUFFIXES: tuple[str, ...] = ("号楼", "栋", "幢", "座", "单元", "室", "楼", "层")
"""Building, unit and room words a place may end with after a number ("翠湖小区3栋2单元501室")."""

_NUMBER = r"(?:[0-9]+[a-z]?|(?<![a-z])[a-z][0-9]*|[一二三四五六七八九十百千零〇两]+)"
_SEPARATORS = r"[-#/_.,、，()]*"
SATISFIED = frozenset({Satisfaction.SATISFIED, Satisfaction.FAIRLY_SATISFIED})
"""Answers counted as satisfied, as in the satisfaction figure (`complaints.kpis`)."""


@lru_cache(maxsize=64)
def _tail(suffixes: tuple[str, ...]) -> re.Pattern[str]:
    words = "|".join(re.escape(s) for s in sorted(suffixes, key=len, reverse=True) if s)
    numbered = f"{_NUMBER}(?:{words})" if words else r"(?!x)x"
    return re.compile(rf"(?:{_SEPARATORS}(?:{numbered}|[0-9]+[a-z]?){_SEPARATORS})+$")


@lru_cache(maxsize=65_536)
def normalise_place(place: str, suffixes: tuple[str, ...] = PLACE_SUFFIXES) -> str:
    """The estate a typed place names: full/half width and case unified, blanks gone, and building,
    unit and room numbers after the estate's name dropped ("翠湖小区 ３栋2单元" → "翠湖小区").

    Only a number followed by one of ``suffixes`` (or a bare number) is dropped, so a
    name that merely ends in such a word ("黄鹤楼") stays whole; a place that is
    nothing but numbers is kept as it is.
    """
    text = "".join(unicodedata.normalize("NFKC", place).split()).casefold()
    return _tail(tuple(suffixes)).sub("", text) or text


class GroupError(ValueError):
    """A group decision that cannot be applied; ``zh`` and ``en`` say why."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en
        super().__init__(f"{en} / {zh}")


def live_members(tickets: Iterable[Ticket], group_id: str) -> list[Ticket]:
    """The tickets of group ``group_id`` that are not cancelled, in order of receipt."""
    found = [t for t in tickets if group_id and t.group_id == group_id and t.cancelled_at is None]
    return sorted(found, key=lambda t: (t.received_at, t.ticket_id))


def representative(members: Sequence[Ticket], chosen: str = "") -> Ticket:
    """The member speaking for the group: the one chosen (sync key), else the first ticket received."""
    if not members:
        raise GroupError("群体事件没有成员", "the group incident has no members")
    return next((t for t in members if chosen and t.sync_key == chosen), members[0])


def apply_plan(members: Iterable[Ticket], text: str, at: datetime) -> list[Ticket]:
    """Every member with the group's plan: its text, and the plan milestone at ``at`` where not yet reached.

    A member that already communicated its plan keeps its own time (the milestone
    happened; moving it would rewrite its on-time record) but takes the group's text.
    """
    if not text.strip():
        raise GroupError("请填写群体处理方案", "write the group's plan")
    return [
        revised(t, plan=text.strip(), plan_at=t.plan_at or at)
        for t in members
        if t.plan != text.strip() or t.plan_at is None
    ]


def apply_compensation(members: Iterable[Ticket], text: str) -> list[Ticket]:
    """Every member with the group's one compensation decision (those that differ)."""
    if not text.strip():
        raise GroupError("请填写补偿决定", "write the compensation decision")
    return [revised(t, compensation=text.strip()) for t in members if t.compensation != text.strip()]


def broadcast(
    members: Iterable[Ticket], text: str, at: datetime, author: str, channel: str = ""
) -> list[LogEntry]:
    """One progress update to the customer, as a progress entry on every member's log."""
    if not text.strip():
        raise GroupError("请填写进度通报内容", "write the progress update")
    return [
        LogEntry(t.ticket_id, at, LogKind.PROGRESS, text.strip(), author=author, channel=channel)
        for t in members
    ]


def shared_task(
    members: Iterable[Ticket],
    tasks: Iterable[Task],
    title: str,
    owner: str = "",
    due: date | None = None,
) -> list[Task]:
    """The group's task as a task of every member, numbered after each member's own tasks."""
    if not title.strip():
        raise GroupError("请填写任务内容", "write the task")
    last: dict[str, int] = {}
    for task in tasks:
        last[task.ticket_id] = max(last.get(task.ticket_id, 0), task.task_no)
    return [
        Task(t.ticket_id, last.get(t.ticket_id, 0) + 1, title.strip(), owner.strip(), due) for t in members
    ]


def revisited(ticket: Ticket) -> bool:
    """The member answered at the revisit: recorded, or dissatisfied and reopened (which empties the
    revisit time, `complaints.lifecycle.record_revisit`, but keeps the answer)."""
    return ticket.satisfaction is not None and (
        ticket.revisited_at is not None or ticket.reopened_at is not None
    )


def answered_at(ticket: Ticket) -> datetime | None:
    """When a member of a group incident answered at the revisit (None: not a member, or no answer yet)."""
    if not ticket.group_id.strip() or not revisited(ticket):
        return None
    return ticket.revisited_at or ticket.reopened_at


def revisit_rate(members: Iterable[Ticket]) -> tuple[int, int]:
    """The group revisit: (satisfied members, revisited members); satisfied includes fairly satisfied."""
    answered = [t.satisfaction for t in members if revisited(t)]
    return sum(s in SATISFIED for s in answered), len(answered)
