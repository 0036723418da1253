"""Attaching evidence to a ticket, and what each door shows of it.

Attaching goes through the one door's unit of work (`server.services.changes.Change`):
the branch is locked as for any change, the ticket read under its lock, and
the attachment recorded in the ticket's history with the authenticated
actor, its role and door. The checklist (`complaints.evidence.missing`) is
shown, not a flag: attaching changes no field of the ticket, so there is
nothing for the rules to settle.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import select

from complaints.enums import Category
from complaints.evidence import (
    DEFAULT_CHECKLIST,
    SNIFF_BYTES,
    Checklist,
    EvidenceError,
    EvidenceKind,
    check_file,
    missing,
    missing_text,
    parse_checklist,
)
from complaints.model import Ticket
from server.privacy import masked
from server.services.changes import Change
from server.services.errors import Invalid
from server.services.notices import QUIET_STATUSES
from server.storage.evidence import EvidenceStore
from server.storage.models import AttachmentRow
from server.storage.rows import from_db, read_tickets
from server.storage.writes import history_row, insert_history
from server.xlsx.evidence import URL

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
MAX_NAME = 200
HISTORY_FIELD = "attachment"
"""The history's entity and field of an attachment (its key is the ticket's)."""


def init_app(app: Flask) -> None:
    """Read the configured checklist at start-up: a misspelt category or kind stops the start, named."""
    configured = app.config.get("EVIDENCE_CHECKLIST")
    if configured is not None:
        parse_checklist(configured)


def max_bytes() -> int:
    return int(current_app.config.get("EVIDENCE_MAX_BYTES") or DEFAULT_MAX_BYTES)


def checklist() -> Checklist:
    """The configured checklist (``EVIDENCE_CHECKLIST``: category → kinds), or the standard's."""
    configured = current_app.config.get("EVIDENCE_CHECKLIST")
    return DEFAULT_CHECKLIST if configured is None else parse_checklist(configured)


def _refuse(exc: EvidenceError, where: dict[str, object]) -> Invalid:
    return Invalid(exc.code, f"{exc.zh} / {exc.en}", where)


def clean_name(sent: str) -> str:
    """The file's own name, without the folders a browser may send, control characters refused."""
    name = posixpath.basename(sent.replace("\\", "/")).strip()
    if not name or any(not ch.isprintable() for ch in name):
        message = "文件名为空或含有控制字符 / the file name is empty or holds control characters"
        raise Invalid("bad_name", message, {"field": "file"})
    if len(name) > MAX_NAME:
        raise Invalid(
            "too_long", f"文件名最多 {MAX_NAME} 个字符 / at most {MAX_NAME} characters in a file name",
            {"field": "file"},
        )  # fmt: skip
    return name


def attach(
    change: Change, sync_key: str, name: str, data: bytes, kind: str, store: EvidenceStore
) -> tuple[AttachmentRow, bool]:
    """Attach ``data`` to the ticket; the attachment and whether it is new (the same file twice is one).

    The change's ticket must be the caller's to see (`server.services.tickets.change_on`).
    """
    name = clean_name(name)
    try:
        evidence = EvidenceKind.parse(kind)
    except ValueError:
        known = ", ".join(f"{k.value} ({k.zh})" for k in EvidenceKind)
        raise Invalid("bad_kind", f"请选择证据类型：{known} / choose the kind of evidence: {known}",
                      {"field": "kind"}) from None  # fmt: skip
    try:
        found = check_file(name, data[:SNIFF_BYTES], len(data), max_bytes())
    except EvidenceError as exc:
        raise _refuse(exc, {"field": "file", "name": name}) from None
    session = change.session
    ticket = read_tickets(session, [sync_key], lock=True)[sync_key]
    sha256 = store.put(data)
    same = session.scalars(
        select(AttachmentRow).where(AttachmentRow.ticket_key == sync_key, AttachmentRow.sha256 == sha256)
    ).first()
    if same is not None:
        return same, False
    actor = change.actor
    row = AttachmentRow(
        ticket_key=sync_key,
        branch_id=change.branch.id,
        sha256=sha256,
        name=name,
        size=len(data),
        mime=found.mime,
        kind=evidence.value,
        by=actor.name,
        role=actor.role,
        door=actor.door,
        at=change.now,
    )
    session.add(row)
    session.flush()
    meta = {"id": row.id, "name": name, "kind": evidence.value, "size": len(data), "type": found.mime,
            "sha256": sha256}  # fmt: skip
    insert_history(
        session,
        [
            history_row(
                change.stamp,
                HISTORY_FIELD,
                sync_key,
                ticket.version,
                HISTORY_FIELD,
                None,
                json.dumps(meta, ensure_ascii=False),
            )
        ],
    )
    return row, True


@dataclass(frozen=True, slots=True)
class Shown:
    """An attachment as a page or a workbook shows it."""

    id: int
    name: str
    kind: str
    size: int
    mime: str
    by: str
    at: datetime


def shown(rows: list[AttachmentRow], lang: str, mask: bool) -> list[Shown]:
    """The attachments in ``lang``; names and uploaders with phone numbers masked when ``mask``."""
    return [
        Shown(
            r.id,
            masked("text", r.name) if mask else r.name,
            _kind(r.kind).label(lang),
            r.size,
            r.mime,
            masked("text", r.by) if mask else r.by,
            r.at,
        )
        for r in rows
    ]


def missing_for(category: object, rows: list[AttachmentRow], rules: Checklist) -> tuple[EvidenceKind, ...]:
    """What the checklist still asks of a ticket of ``category`` (stored code or `Category`)."""
    if not isinstance(category, Category):
        category = from_db("category", category) if category else None
    return missing(category, {_kind(r.kind) for r in rows}, rules)


def download_name(row: AttachmentRow, mask: bool) -> str:
    return masked("text", row.name) if mask else row.name


def _kind(code: str) -> EvidenceKind:
    try:
        return EvidenceKind(code)
    except ValueError:
        return EvidenceKind.OTHER


def workbook_rows(
    tickets: list[Ticket],
    attachments: Mapping[str, list[AttachmentRow]],
    lang: str,
    zone: ZoneInfo,
    rules: Checklist,
    link: Callable[[int], str],
) -> list[dict[str, Any]]:
    """The Evidence sheet's rows: one per attachment, and one for an unfinished ticket still missing some.

    Every row of a ticket names what it still misses, in the workbook's language;
    a finished or cancelled ticket's missing evidence is no longer asked for.
    The branch's own workbook: names in full (the data are its own, `server.privacy`).
    """
    rows: list[dict[str, Any]] = []
    for ticket in sorted(tickets, key=lambda t: t.ticket_id):
        files = attachments.get(ticket.sync_key, [])
        lacking = () if ticket.status in QUIET_STATUSES else missing_for(ticket.category, files, rules)
        text = missing_text(lacking, lang)
        for item in files:
            rows.append(
                {
                    "ticket_id": ticket.ticket_id,
                    "missing": text,
                    "name": item.name,
                    "kind": _kind(item.kind).label(lang),
                    "size": item.size,
                    "at": item.at.astimezone(zone).replace(tzinfo=None),
                    "by": item.by,
                    URL: link(item.id),
                }
            )
        if text and not files:
            rows.append({"ticket_id": ticket.ticket_id, "missing": text})
    return rows
