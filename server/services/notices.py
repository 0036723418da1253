"""Notices by e-mail through an outbox: enqueue in the caller's transaction, send later, retry with backoff.

A notice is a row of ``outbox`` with a unique ``dedupe_key``, written in the
same transaction as the change it reports, so it exists exactly when the change
does and enqueueing twice is harmless. The sender job claims due rows, sends
them over SMTP (``SMTP_*`` settings) and marks them sent; a failure leaves the
row pending with the next attempt pushed back exponentially, so nothing is lost
while the mail server is down. A sender that dies between sending and marking
sends that one notice again after ``OUTBOX_CLAIM_SECONDS``; the Message-ID is
derived from the dedupe key, so the receiving side can recognise the repeat.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from complaints.contacts import mask_phones
from complaints.enums import Category, Flag, Status
from complaints.major import CHECKLIST
from complaints.model import Ticket
from complaints.routing import RoutingTable, head_rule
from complaints.sla import Deadlines
from complaints.wire import COLUMNS
from server.services.sms import SmsGatewaySender
from server.storage.db import get_db
from server.storage.models import BranchRow, OutboxRow
from server.storage.routing import EMERGENCY_ROLES
from server.storage.rows import clock_for

logger = logging.getLogger(__name__)

PENDING, SENT, FAILED, UNADDRESSED, SKIPPED = "pending", "sent", "failed", "unaddressed", "skipped"
DOWN = "down"
"""A sender's verdict (not a status): the server or gateway is unreachable, every claimed notice waits."""
QUIET_STATUSES = frozenset({Status.CLOSED, Status.REVISITED, Status.CANCELLED})
"""A ticket in these states raises no escalation notice: the work is done or void."""

_OPEN_DEADLINES: tuple[tuple[str, str, str], ...] = (
    # (Deadlines attribute, the milestone that meets it, column whose zh/en header labels it)
    ("acknowledge", "acknowledged_at", "ack_due"),
    ("plan", "plan_at", "plan_due"),
    ("dept_feedback", "dept_feedback_at", "dept_feedback_due"),
    ("resolve", "resolved_at", "resolve_due"),
    ("feedback", "feedback_at", "feedback_due"),
    ("revisit_until", "revisited_at", "revisit_until"),
)


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str
    dedupe_key: str
    recipient: str
    to_addr: str
    lang: str
    subject: str
    body: str
    branch_id: int | None = None
    ticket_key: str | None = None
    channel: str = "email"
    """How it goes: ``email`` or ``sms`` (a message to a customer), each with its sender (`senders`)."""


def render(kind: str, lang: str, **context: Any) -> tuple[str, str]:
    """Subject and body of ``templates/email/<kind>.<lang>.txt`` (its first line is ``Subject: …``).

    Department heads and coordinators are not administrators: every phone number
    in the rendered text is masked, whichever field it was typed in.
    """
    # the Jinja environment itself: page context processors need a request, and a notice has none
    text = current_app.jinja_env.get_template(f"email/{kind}.{lang}.txt").render(lang=lang, **context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"templates/email/{kind}.{lang}.txt must start with a 'Subject: ' line")
    return header_text(mask_phones(first.removeprefix("Subject: "))), mask_phones(body.strip()) + "\n"


_NOT_IN_HEADERS = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]+"
)
"""Control characters (C0, DEL, C1 with NEL), line and paragraph separators, invisible and bidi marks."""


def header_text(text: str) -> str:
    """``text`` fit for one header line: every control or line-breaking character becomes one space."""
    return " ".join(_NOT_IN_HEADERS.sub(" ", text).split())


def _outbox_row(notice: Notice, now: datetime, skip_reason: str = "") -> dict[str, Any]:
    return {
        "dedupe_key": notice.dedupe_key,
        "kind": notice.kind,
        "branch_id": notice.branch_id,
        "ticket_key": notice.ticket_key,
        "recipient": notice.recipient[:200],
        "to_addr": notice.to_addr,
        "lang": notice.lang,
        "subject": notice.subject,
        "body": notice.body,
        "status": SKIPPED if skip_reason else PENDING if notice.to_addr else UNADDRESSED,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": skip_reason
        or ("" if notice.to_addr else _NO_ADDRESS.get(notice.channel, "no address")),
        "created_at": now,
        "channel": notice.channel,
    }


_NO_ADDRESS = {
    "email": "no e-mail address (flask --app server routing …)",
    "sms": "no mobile number in the ticket's contact",
}


def _insert(session: Session) -> Any:
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(OutboxRow.__table__).on_conflict_do_nothing(index_elements=["dedupe_key"])


def enqueue(session: Session, notice: Notice, now: datetime, skip_reason: str = "") -> bool:
    """Add ``notice`` to the outbox unless one with its dedupe key exists; True if it was added.

    Without an address the notice is kept as *unaddressed* (shown on the admin page), never
    dropped. With ``skip_reason`` it is recorded as *skipped*: known, deliberately not sent.
    """
    statement = _insert(session).values(_outbox_row(notice, now, skip_reason)).returning(OutboxRow.id)
    return session.execute(statement).first() is not None  # rowcount is not reliable here on every driver


def enqueue_many(session: Session, notices: list[Notice], now: datetime, skip_reason: str = "") -> None:
    """Add several notices in one statement (one already queued under a dedupe key is left alone)."""
    if notices:
        session.connection().execute(_insert(session), [_outbox_row(n, now, skip_reason) for n in notices])


def local_time(moment: datetime | None, zone: str) -> str:
    return "" if moment is None else moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def open_deadlines(ticket: Ticket, deadlines: Deadlines, zone: str, lang: str) -> list[tuple[str, str]]:
    """(label, local time) of each deadline whose milestone is still missing, for a notice."""
    lines = []
    for attr, milestone, column in _OPEN_DEADLINES:
        due = getattr(deadlines, attr)
        if isinstance(due, datetime) and getattr(ticket, milestone) is None:
            lines.append((COLUMNS[column].header(lang), local_time(due, zone)))
    return lines


def flag_labels(flags: Iterable[Flag], lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(f.label(lang) for f in sorted(flags))


def ticket_context(
    branch: BranchRow, ticket: Ticket, lang: str, deadlines: Deadlines | None = None
) -> dict[str, Any]:
    """What every ticket notice shows: who, what, why and by when (``deadlines``: the ticket's, if known)."""
    if deadlines is None:
        deadlines = clock_for(branch.timezone, current_app.config.get("CALENDAR_FILE")).deadlines(ticket)
    category = ticket.category.label(lang) if isinstance(ticket.category, Category) else ""
    return {
        "branch": branch,
        "ticket": ticket,
        "category": category,
        "level": ticket.level.label(lang),
        "contact": mask_phones(ticket.contact.strip(), contact=True),
        "received": local_time(ticket.received_at, branch.timezone),
        "escalated": local_time(ticket.escalated_at, branch.timezone),
        "deadlines": open_deadlines(ticket, deadlines, branch.timezone, lang),
        "flags": flag_labels((f for f in ticket.flags if f.is_overdue), lang),
    }


def escalation_key(ticket: Ticket) -> str:
    """The dedupe key of an escalation notice: the same escalation (level, time, reason) is told once."""
    at = ticket.escalated_at.astimezone(UTC).isoformat() if ticket.escalated_at else ""
    digest = hashlib.sha256(f"{at}|{ticket.level_reason}".encode()).hexdigest()[:16]
    return f"escalation:{ticket.sync_key}:{ticket.level.value}:{digest}"


def escalation_notice(
    branch: BranchRow,
    ticket: Ticket,
    by: str,
    table: RoutingTable,
    lang: str,
    deadlines: Deadlines | None = None,
) -> Notice:
    """The notice to the department head that ``ticket`` turned yellow or red (who, what, why, when)."""
    rule = head_rule(table, ticket)
    head = (rule.head if rule else "") or ticket.escalated_to
    context = ticket_context(branch, ticket, lang, deadlines)
    subject, body = render("escalation", lang, head=head, by=by, reason=ticket.level_reason, **context)
    return Notice(
        kind="escalation",
        dedupe_key=escalation_key(ticket),
        recipient=head,
        to_addr=rule.head_email if rule else "",
        lang=lang,
        subject=subject,
        body=body,
        branch_id=branch.id,
        ticket_key=ticket.sync_key,
    )


def emergency_key(branch_id: int, ticket: Ticket, role: str, late: bool) -> str:
    """The dedupe key of an emergency notice: once per case (a group incident is one case) and role."""
    case = f"group:{branch_id}:{ticket.group_id}" if ticket.group_id else ticket.sync_key
    return f"emergency{'-late' if late else ''}:{case}:{role}"


def emergency_notice(
    branch: BranchRow,
    ticket: Ticket,
    role: str,
    recipient: str,
    to_addr: str,
    late: bool,
    lang: str,
    deadlines: Deadlines | None = None,
) -> Notice:
    """The notice that ``ticket`` took the emergency path, or (``late``) has no plan after its 24 hours.

    ``role``: an emergency role (`server.storage.routing.EMERGENCY_ROLES`) or "head", the department head.
    """
    context = ticket_context(branch, ticket, lang, deadlines)
    checklist = [
        (zh if lang == "zh" else en, local_time(getattr(ticket, key), branch.timezone))
        for key, zh, en in CHECKLIST
    ]
    zh, en = {**EMERGENCY_ROLES, "head": ("部门负责人", "department head")}[role]
    subject, body = render(
        "emergency",
        lang,
        recipient=recipient,
        role=zh if lang == "zh" else en,
        late=late,
        group=ticket.group_id,
        checklist=checklist,
        **context,
    )
    return Notice(
        kind="emergency",
        dedupe_key=emergency_key(branch.id, ticket, role, late),
        recipient=recipient,
        to_addr=to_addr,
        lang=lang,
        subject=subject,
        body=body,
        branch_id=branch.id,
        ticket_key=ticket.sync_key,
    )


# --- sending ----------------------------------------------------------------------------------------


class Sender(Protocol):
    """What sends the outbox rows of one channel: a context manager around one connection."""

    channel: str
    unconfigured: str

    @property
    def configured(self) -> bool: ...

    def check(self) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...

    def send(self, row: OutboxRow, now: datetime) -> None: ...

    def verdict(self, exc: Exception) -> tuple[str, str]:
        """(FAILED, why): never sendable; (PENDING, why): this one later; (DOWN, why): all claimed wait."""
        ...


class SmtpSender:
    """Sends messages over one SMTP connection opened with the app's ``SMTP_*`` settings."""

    channel = "email"
    unconfigured = "SMTP_HOST is not set: notices wait in the outbox"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = str(config.get("SMTP_HOST") or "")
        self.port = int(config.get("SMTP_PORT") or 25)
        self.user = str(config.get("SMTP_USER") or "")
        self.password = str(config.get("SMTP_PASSWORD") or "")
        self.sender = str(config.get("SMTP_FROM") or "complaint-desk@localhost")
        self.tls = str(config.get("SMTP_TLS") or "").lower()
        self.timeout = float(config.get("SMTP_TIMEOUT") or 10)
        self._smtp: smtplib.SMTP | None = None

    @property
    def configured(self) -> bool:
        return bool(self.host)

    def check(self) -> None:
        """Refuse settings that cannot work, naming them (before any notice is claimed)."""
        if self.tls not in ("", "starttls", "ssl"):
            raise ValueError(f"SMTP_TLS must be '', 'starttls' or 'ssl', not {self.tls!r}")

    def __enter__(self) -> SmtpSender:
        if self.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if self.user:
            smtp.login(self.user, self.password)
        self._smtp = smtp
        return self

    def __exit__(self, *exc: object) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    def send(self, row: OutboxRow, now: datetime) -> None:
        assert self._smtp is not None, "use the sender as a context manager"
        message = EmailMessage()
        message["Subject"] = header_text(row.subject)  # text typed at a branch may hold any character
        message["From"] = self.sender
        message["To"] = header_text(row.to_addr)
        message["Date"] = format_datetime(now)
        message["Message-ID"] = f"<{hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:32]}@complaint-desk>"
        message.set_content(row.body)
        self._smtp.send_message(message)

    def verdict(self, exc: Exception) -> tuple[str, str]:
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            return FAILED, f"recipient refused: {exc.recipients}"
        if isinstance(exc, smtplib.SMTPResponseException):
            return PENDING, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
        if isinstance(exc, smtplib.SMTPNotSupportedError):  # e.g. an address needing SMTPUTF8
            return FAILED, f"cannot be sent: {type(exc).__name__}: {exc}"
        if isinstance(exc, OSError):  # the connection is gone (SMTP errors are OSErrors too)
            return DOWN, f"{type(exc).__name__}: {exc}"
        return FAILED, f"cannot be sent: {type(exc).__name__}: {exc}"  # this one can never be sent as it is


def senders(config: Mapping[str, Any]) -> dict[str, Sender]:
    """The sender of each channel: e-mail over SMTP, SMS through the gateway."""
    return {"email": SmtpSender(config), "sms": SmsGatewaySender(config)}


@dataclass(frozen=True)
class SendReport:
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    error: str = ""


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Delay before the next attempt after ``attempts`` failures: base, 2×base, 4×base … up to ``cap``."""
    return timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), cap))


def send_pending(
    now: datetime,
    sender: SmtpSender | None = None,
    limit: int = 200,
    by_channel: Mapping[str, Sender] | None = None,
) -> SendReport:
    """Send the notices that are due, each through its channel's sender; failures stay pending, later.

    A notice that can never be sent (a recipient refused, text no mail can
    carry) is marked *failed* with its reason and the others are sent all the same.
    A channel whose sender is not configured keeps its notices waiting.
    """
    config = current_app.config
    chosen = dict(by_channel or senders(config))
    if sender is not None:
        chosen["email"] = sender
    total = SendReport()
    errors = []
    for channel, one in chosen.items():
        if not one.configured:
            if channel == "email" or _waiting(channel):
                errors.append(one.unconfigured)
            continue
        one.check()
        report = _send_channel(now, one, limit)
        total = SendReport(
            total.sent + report.sent, total.deferred + report.deferred, total.failed + report.failed
        )
        if report.error:
            errors.append(report.error)
    return dataclasses.replace(total, error="; ".join(errors))


def _waiting(channel: str) -> bool:
    with get_db().read() as session:
        found = session.scalar(
            select(OutboxRow.id).where(OutboxRow.status == PENDING, OutboxRow.channel == channel).limit(1)
        )
    return found is not None


def _send_channel(now: datetime, sender: Sender, limit: int) -> SendReport:
    config = current_app.config
    db = get_db()
    claim_for = timedelta(seconds=float(config.get("OUTBOX_CLAIM_SECONDS", 600)))
    base, cap = float(config.get("OUTBOX_BACKOFF_SECONDS", 60)), float(config.get("OUTBOX_BACKOFF_MAX", 3600))
    with db.write() as session:
        due = session.scalars(
            select(OutboxRow)
            .where(
                OutboxRow.status == PENDING,
                OutboxRow.next_attempt_at <= now,
                OutboxRow.channel == sender.channel,
            )
            .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
            .limit(limit)
        ).all()
        claimed = []
        attempts: dict[int, int] = {}
        for row in due:  # claiming pushes the next attempt past a crash, so a dead sender's rows come back
            attempts[row.id] = row.attempts + 1
            result = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row.id, OutboxRow.status == PENDING, OutboxRow.next_attempt_at <= now)
                .values(next_attempt_at=now + claim_for, attempts=attempts[row.id])
                .execution_options(synchronize_session=False)
            )
            if result.rowcount:
                claimed.append(row)
    if not claimed:
        return SendReport()
    sent = failed = 0
    error = ""
    try:
        with sender:
            for row in claimed:
                try:
                    sender.send(row, now)
                except Exception as exc:
                    verdict, why = sender.verdict(exc)
                    if verdict == DOWN:
                        raise  # the connection or the gateway is gone: every claimed notice waits
                    if verdict == FAILED:
                        failed += 1
                        _unsendable(row.id, now, why)
                    else:
                        error = why
                        _defer(row.id, now, attempts[row.id], base, cap, error)
                    continue
                sent += 1
                _mark(row.id, SENT, now, "")
    except (OSError, smtplib.SMTPException) as exc:  # the server is down or dropped the connection
        error = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "outbox: %s sender unavailable (%s); %d notices wait", sender.channel, error, len(claimed) - sent
        )
        with db.write() as session:
            for row in claimed:
                status = session.scalar(select(OutboxRow.status).where(OutboxRow.id == row.id))
                if status == PENDING:
                    _defer(row.id, now, attempts[row.id], base, cap, error, session)
    deferred = len(claimed) - sent - failed
    return SendReport(sent=sent, deferred=deferred, failed=failed, error=error)


def _unsendable(row_id: int, now: datetime, why: str) -> None:
    reason = mask_phones(why)
    logger.warning("outbox: notice %s failed: %s", row_id, reason)
    _mark(row_id, FAILED, now, reason)


def _mark(row_id: int, status: str, now: datetime, error: str) -> None:
    with get_db().write() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id)
            .values(status=status, sent_at=now if status == SENT else None, last_error=error[:2000])
        )


def _defer(
    row_id: int,
    now: datetime,
    attempts: int,
    base: float,
    cap: float,
    error: str,
    session: Session | None = None,
) -> None:
    statement = (
        update(OutboxRow)
        .where(OutboxRow.id == row_id)
        .values(next_attempt_at=now + backoff(attempts, base, cap), last_error=error[:2000])
    )
    if session is not None:
        session.execute(statement)
        return
    with get_db().write() as own:
        own.execute(statement)
