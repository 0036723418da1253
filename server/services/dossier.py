"""The regulator dossier: one ticket's whole record, assembled once as plain data, with its digest.

When a customer appeals to the regulator (工信部 / 12300) the operator shows
how the complaint was handled. `build` reads the ticket, its milestones with
deadlines and on-time verdicts (the rules of `complaints.sla` and the one
on-time definition of `complaints.kpis.facts`, the same the head-office
figures count), the whole field history, tasks, the communication log and
every conflict with how it was settled. The renderers (`server.xlsx.dossier`,
PDF through LibreOffice) only lay this content out.

The digest is a SHA-256 over the canonical JSON of the content (sorted keys,
no whitespace, UTF-8). The time the dossier was made is printed beside it but
deliberately left **out** of the digest: `dossier verify` (the CLI) rebuilds the content from the
database and compares, so a digest stays valid until the stored record
changes, whenever it is recomputed. Whether phone numbers were masked is part
of the content (and so of the digest): a masked dossier verifies as masked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from complaints.enums import LogKind
from complaints.evidence import EvidenceKind
from complaints.figures import Milestone
from complaints.kpis import facts
from complaints.model import Ticket
from complaints.schema import TICKETS
from complaints.sla import DEFAULT_TZ, SlaClock
from complaints.wire import COLUMNS, TASK_COLUMNS, FieldError, decode
from server.services.errors import NotFound
from server.services.evidence import HISTORY_FIELD as ATTACHMENT
from server.services.present import field_label, local_time, masked, show, show_stored
from server.storage.models import (
    AttachmentRow,
    BranchRow,
    ConflictRow,
    HistoryRow,
    LogRow,
    TaskRow,
    TicketRow,
)
from server.storage.rows import clock_for, from_db, row_to_ticket
from server.storage.writes import CREATED

MILESTONES: tuple[tuple[str, str, str, Milestone | None], ...] = (
    ("received_at", "受理", "Received", None),
    ("acknowledged_at", "首次响应", "Acknowledged", Milestone.ACKNOWLEDGE),
    ("routed_at", "分派", "Routed", None),
    ("plan_at", "方案沟通", "Plan communicated", Milestone.PLAN),
    ("resolved_at", "处理完成", "Resolved", Milestone.RESOLVE),
    ("feedback_at", "结果反馈", "Feedback given", Milestone.FEEDBACK),
    ("closed_at", "闭环", "Closed", None),
    ("revisited_at", "回访", "Revisited", Milestone.REVISIT),
)
"""Every milestone in order, with the figure whose on-time rule judges it (None: no deadline)."""

VERDICTS = {
    True: "按时 On time",
    False: "逾期 Late",
    None: "无法判定 Undetermined",
    "open": "未到达 Not reached",
    "none": "无时限 No deadline",
}
RESOLUTIONS = {"branch": "采用分公司值 Branch value kept", "server": "采用服务器值 Server value kept"}
ROLES = {
    "branch": "分支机构 branch",
    "head_office": "总部 head office",
    "admin": "管理员 admin",
    "system": "系统 system",
    "investigator": "调查人 investigator",
    "dept_head": "部门负责人 department head",
}
DOORS = {
    "api": "同步 Sync",
    "upload": "上传 Upload",
    "dashboard": "总部看板 Dashboard",
    "scheduler": "定时任务 Scheduler",
    "demo": "演示 Demo",
}


@dataclass(frozen=True)
class Dossier:
    """A ticket's record as printed: every value already text, in the branch's local time."""

    ticket_id: str
    sync_key: str
    branch: str
    masked: bool
    fields: list[list[str]]
    """[label, value] of every visible ticket column that holds something."""
    milestones: list[list[str]]
    """[milestone, done at, deadline, verdict]."""
    history: list[list[str]]
    """[at, version, field, old, new, by, door] oldest first."""
    tasks: list[list[str]]
    """[no, title, owner, due, done at]."""
    log: list[list[str]]
    """[at, kind, text, author, channel] oldest first."""
    conflicts: list[list[str]]
    """[detected at, field, branch value, server value, settled at, settled how, by]."""
    attachments: list[list[str]] = field(default_factory=list)
    """[attached at, file name, kind, bytes, by, SHA-256], oldest first; never the file itself."""

    def content(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON of the content (the "made at" time is not part of it)."""
        return _sha256(self.content())


def _sha256(content: dict[str, Any]) -> str:
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Made:
    dossier: Dossier
    digest: str
    made_at: str
    """Local time in the branch's zone, printed beside the digest, outside it."""


def find_key(session: Session, ticket: str) -> str:
    """The sync key of a ticket given by its sync key or its ticket number."""
    if session.get(TicketRow, ticket) is not None:
        return ticket
    key = session.scalar(select(TicketRow.sync_key).where(TicketRow.ticket_id == ticket).limit(1))
    if key is None:
        raise NotFound("ticket_not_found", f"没有工单 {ticket} / no ticket {ticket}", {"ticket": ticket})
    return key


def build(session: Session, ticket: str, mask: bool) -> Dossier:
    """The dossier of ``ticket`` (sync key or number); ``mask``: phone numbers masked for the viewer."""
    row = session.get(TicketRow, find_key(session, ticket))
    assert row is not None
    branch = session.get(BranchRow, row.branch_id)
    assert branch is not None
    zone = branch.timezone
    lang = "zh"

    def shown(key: str, value: Any) -> str:
        return masked(key, show(key, value, zone, lang), mask)

    def stored(key: str, text: str | None, entity: str) -> str:
        raw = json.loads(text) if text else None
        return show_stored(key, raw, zone, lang, mask, TASK_COLUMNS if entity == "task" else COLUMNS)

    fields = [
        [f"{c.header('zh')} {c.header('en')}", text]
        for c in TICKETS.columns
        if not c.hidden and (text := shown(c.key, from_db(c.key, getattr(row, c.key))))
    ]
    tasks = list(
        session.scalars(select(TaskRow).where(TaskRow.ticket_key == row.sync_key).order_by(TaskRow.task_no))
    )
    task_no = {t.sync_key: t.task_no for t in tasks}
    keys = [row.sync_key, *task_no]
    history_list = list(
        session.scalars(
            select(HistoryRow)
            .where(
                or_(
                    (HistoryRow.entity == "ticket") & (HistoryRow.entity_key == row.sync_key),
                    (HistoryRow.entity == "task") & HistoryRow.entity_key.in_(list(task_no)),
                    (HistoryRow.entity == ATTACHMENT) & (HistoryRow.entity_key == row.sync_key),
                )
            )
            .order_by(HistoryRow.at, HistoryRow.id)
        )
    )
    history_rows = []
    for h in history_list:
        label = (
            "创建 Created"
            if h.field == CREATED
            else field_label(h.field, lang)
            if h.entity == "ticket"
            else "附件 Attachment"
            if h.entity == ATTACHMENT
            else f"任务 #{task_no.get(h.entity_key, '?')} · {field_label(h.field, lang, TASK_COLUMNS)}"
        )
        new = (
            _created(h.new_value, zone, mask)
            if h.field == CREATED
            else _attached(h.new_value, mask)
            if h.entity == ATTACHMENT
            else stored(h.field, h.new_value, h.entity)
        )
        old = "" if h.field == CREATED or h.entity == ATTACHMENT else stored(h.field, h.old_value, h.entity)
        door = DOORS.get(h.source, h.source) + (f" · {masked('device', h.device, mask)}" if h.device else "")
        who = masked("by", h.by, mask) + (f"（{ROLES.get(h.role, h.role)}）" if h.role else "")
        history_rows.append([local_time(h.at, zone), str(h.version), label, old, new, who, door])
    log = session.scalars(
        select(LogRow).where(LogRow.ticket_key == row.sync_key).order_by(LogRow.at, LogRow.sync_key)
    )
    attachments = session.scalars(
        select(AttachmentRow)
        .where(AttachmentRow.ticket_key == row.sync_key)
        .order_by(AttachmentRow.at, AttachmentRow.id)
    )
    conflicts = session.scalars(
        select(ConflictRow)
        .where(ConflictRow.entity_key.in_(keys))
        .order_by(ConflictRow.detected_at, ConflictRow.id)
    )
    return Dossier(
        ticket_id=row.ticket_id,
        sync_key=row.sync_key,
        branch=f"{branch.code} {branch.name}".strip(),
        masked=mask,
        fields=fields,
        milestones=_milestones(row, branch, history_list),
        history=history_rows,
        tasks=[
            [
                str(t.task_no),
                masked("title", t.title, mask),
                masked("owner", t.owner, mask),
                t.due.isoformat() if t.due else "",
                local_time(t.done_at, zone),
            ]
            for t in tasks
        ],
        log=[
            [
                local_time(e.at, zone),
                _kind(e.kind),
                masked("text", e.text, mask),
                masked("text", e.author, mask) + (f"（{ROLES.get(e.role, e.role)}）" if e.role else ""),
                masked("text", e.channel, mask),
            ]
            for e in log
        ],
        conflicts=[
            [
                local_time(c.detected_at, zone),
                field_label(c.field, lang, TASK_COLUMNS if c.entity == "task" else COLUMNS),
                stored(c.field, c.branch_value, c.entity),
                stored(c.field, c.server_value, c.entity),
                local_time(c.resolved_at, zone) or "未解决 Open",
                RESOLUTIONS.get(c.resolution, c.resolution),
                masked("by", c.resolved_by, mask),
            ]
            for c in conflicts
        ],
        attachments=[
            [
                local_time(a.at, zone),
                masked("name", a.name, mask),
                _evidence_kind(a.kind),
                f"{a.size:,}",
                masked("by", a.by, mask),
                a.sha256,
            ]
            for a in attachments
        ],
    )


def _milestones(row: TicketRow, branch: BranchRow, history: list[HistoryRow]) -> list[list[str]]:
    """Each milestone with its deadline under the rules and the verdict the head-office figures count.

    A reopened ticket (objection, dissatisfied revisit) lost its later milestones
    when it was reopened; the history keeps them. Each earlier round is rebuilt
    as the ticket stood just before its reopening and judged like the last.
    """
    ticket = row_to_ticket(row, branch.code)
    clock = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE"))
    reopenings = sorted(
        {h.version for h in history if h.entity == "ticket" and h.field == "reopened_at" and h.new_value}
    )
    rounds = [_as_of(ticket, history, v - 1) for v in reopenings] + [ticket]
    out = []
    for n, state in enumerate(rounds, start=1):
        prefix = f"第{n}轮 Round {n} · " if len(rounds) > 1 else ""
        out += [[prefix + r[0], *r[1:]] for r in _judged(state, clock, branch.timezone)]
    return out


def _as_of(ticket: Ticket, history: list[HistoryRow], version: int) -> Ticket:
    """``ticket`` as it stood at ``version``: every later change to its fields undone from the history."""
    names = {f.name for f in dataclasses.fields(Ticket)}
    earlier: dict[str, str | None] = {}
    for h in sorted(history, key=lambda h: (h.version, h.id), reverse=True):
        if h.entity == "ticket" and h.version > version and h.field in names and h.field in COLUMNS:
            earlier[h.field] = h.old_value
    values = {}
    for name, text in earlier.items():
        try:
            values[name] = decode(name, json.loads(text) if text else None)
        except FieldError:
            continue  # a value the schema no longer reads: the round is judged on the rest
    return dataclasses.replace(ticket, **values)


def _judged(ticket: Ticket, clock: SlaClock, zone: str) -> list[list[str]]:
    deadlines = clock.deadlines(ticket)
    met = facts(ticket, deadlines, clock).met
    out = []
    for key, zh, en, milestone in MILESTONES:
        at = getattr(ticket, key)
        if milestone is None:
            due, verdict = "", VERDICTS["none"]
        else:
            if milestone is Milestone.REVISIT:
                due = _window(deadlines.revisit_from, deadlines.revisit_until, zone)
            else:
                due = _due(getattr(deadlines, milestone.value), zone)
            verdict = VERDICTS[met[milestone]] if at is not None else VERDICTS["open"]
        if milestone is Milestone.PLAN and deadlines.extension_error:
            verdict += f"（延期无效 invalid extension: {deadlines.extension_error}）"
        elif milestone is Milestone.PLAN and ticket.extension_until is not None:
            verdict += "（已有效延期 extended）"
        out.append([f"{zh} {en}", local_time(at, zone), due, verdict])
    return out


def _due(due: Any, zone: str) -> str:
    if isinstance(due, datetime):
        return local_time(due, zone)
    return "" if due is None else "日历未发布 calendar pending"


def _window(start: Any, end: Any, zone: str) -> str:
    if start is None and end is None:
        return ""
    return f"{_due(start, zone)} – {_due(end, zone)}"


def _created(text: str | None, zone: str, mask: bool) -> str:
    """The fields a ticket was created with, ``label: value`` joined by "; "."""
    values = json.loads(text) if text else {}
    return "; ".join(
        f"{field_label(k, 'zh')}: {show_stored(k, v, zone, 'zh', mask)}"
        for k, v in values.items()
        if v not in (None, "", False, [])
    )


def _attached(text: str | None, mask: bool) -> str:
    """An attachment's history line: name, kind and digest."""
    meta = json.loads(text) if text else {}
    name = masked("name", str(meta.get("name", "")), mask)
    return f"{name} · {_evidence_kind(str(meta.get('kind', '')))} · SHA-256 {meta.get('sha256', '')}"


def _evidence_kind(kind: str) -> str:
    try:
        k = EvidenceKind(kind)
    except ValueError:
        return kind
    return f"{k.zh} {k.en}"


def _kind(kind: str) -> str:
    try:
        k = LogKind(kind)
    except ValueError:
        return kind
    return f"{k.label('zh')} {k.label('en')}"


def make(session: Session, ticket: str, mask: bool, now: datetime) -> Made:
    """The dossier with its digest and the moment (``now``) it was made."""
    dossier = build(session, ticket, mask)
    zone = session.scalar(
        select(BranchRow.timezone)
        .join(TicketRow, TicketRow.branch_id == BranchRow.id)
        .where(TicketRow.sync_key == dossier.sync_key)
    )
    return Made(dossier, dossier.digest(), local_time(now, zone or DEFAULT_TZ))


@dataclass(frozen=True)
class GroupDossier:
    """A group complaint (one incident, many customers): a summary and every member's whole dossier."""

    group_id: str
    masked: bool
    summary: list[list[str]]
    """[label, value]: the group, branch, place, category, received from – to, members."""
    members: list[list[str]]
    """[ticket, customer, received, status, resolved, the member's own SHA-256], by ticket number."""
    dossiers: list[Dossier]

    def content(self) -> dict[str, Any]:
        return asdict(self)

    def digest(self) -> str:
        """One SHA-256 over the summary and every member's content (the "made at" time left out)."""
        return _sha256(self.content())


@dataclass(frozen=True)
class MadeGroup:
    group: GroupDossier
    digest: str
    made_at: str

    @property
    def members(self) -> list[Made]:
        """Each member's dossier with its own digest (for its complaint form)."""
        return [Made(d, d.digest(), self.made_at) for d in self.group.dossiers]


GROUP_SUMMARY = (
    "群体投诉编号 Group incident",
    "分公司 Branch",
    "问题地点 Place",
    "投诉类别 Category",
    "受理时间 Received",
    "成员 Members",
    "已处理完成 Resolved",
)


def build_group(session: Session, group_id: str, mask: bool) -> GroupDossier:
    """The dossier of group complaint ``group_id``: its members by ticket number, each whole."""
    rows = list(
        session.scalars(
            select(TicketRow).where(TicketRow.group_id == group_id.strip()).order_by(TicketRow.ticket_id)
        )
    )
    if not group_id.strip() or not rows:
        raise NotFound(
            "group_not_found", f"没有群体投诉 {group_id} / no group complaint {group_id}", {"group": group_id}
        )
    branches = {
        b.id: b
        for b in session.scalars(select(BranchRow).where(BranchRow.id.in_({r.branch_id for r in rows})))
    }
    zone = branches[rows[0].branch_id].timezone
    dossiers = [build(session, r.sync_key, mask) for r in rows]

    def distinct(key: str) -> str:
        seen = dict.fromkeys(
            masked(key, show(key, from_db(key, getattr(r, key)), zone, "zh"), mask) for r in rows
        )
        return "、".join(v for v in seen if v)

    received = sorted(r.received_at for r in rows)
    summary = [
        group_id.strip(),
        "、".join(dict.fromkeys(f"{b.code} {b.name}".strip() for b in (branches[r.branch_id] for r in rows))),
        distinct("place"),
        distinct("category"),
        f"{local_time(received[0], zone)} – {local_time(received[-1], zone)}",
        str(len(rows)),
        f"{sum(r.resolved_at is not None for r in rows)} / {len(rows)}",
    ]
    members = [
        [
            r.ticket_id,
            masked("customer_name", r.customer_name, mask),
            local_time(r.received_at, zone),
            show("status", from_db("status", r.status), zone, "zh"),
            local_time(r.resolved_at, zone),
            d.digest(),
        ]
        for r, d in zip(rows, dossiers, strict=True)
    ]
    return GroupDossier(
        group_id=group_id.strip(),
        masked=mask,
        summary=[[label, value] for label, value in zip(GROUP_SUMMARY, summary, strict=True)],
        members=members,
        dossiers=dossiers,
    )


def make_group(session: Session, group_id: str, mask: bool, now: datetime) -> MadeGroup:
    """The group's dossier with its one digest and the moment (``now``) it was made."""
    group = build_group(session, group_id, mask)
    zone = session.scalar(
        select(BranchRow.timezone)
        .join(TicketRow, TicketRow.branch_id == BranchRow.id)
        .where(TicketRow.sync_key == group.dossiers[0].sync_key)
    )
    return MadeGroup(group, group.digest(), local_time(now, zone or DEFAULT_TZ))
