"""What the customer is told (SUMMARY §2, §3): messages per step and channel, filled from the ticket.

A template is plain text with ``{name}`` placeholders (the names in `PLACEHOLDERS`);
an e-mail template's first line is ``Subject: …``. The server keeps the templates
as files and hands their text in; this module fills them, says which cells a
message still needs, and runs the wording check (`textcheck.check_reply`) on the
filled text, so a coordinator sees the findings in what they typed before it is
sent. It also holds the two rules on what the customer was told: the feedback
goes through the preferred channel, and every commitment is confirmed in writing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from complaints.enums import Category, Labelled, LogKind
from complaints.model import LogEntry, Ticket
from complaints.reach import went_through
from complaints.schema import TICKETS
from complaints.sla import PENDING, Due, SlaClock
from complaints.textcheck import ReplyIssue, check_reply


class MessageKind(Labelled):
    ACKNOWLEDGEMENT = ("acknowledgement", "受理告知", "Acknowledgement")
    PLAN = ("plan", "方案沟通", "Plan")
    PROGRESS = ("progress", "进度通报", "Progress update")
    FEEDBACK = ("feedback", "结果反馈", "Result feedback")
    CONFIRMATION = ("confirmation", "书面确认", "Written confirmation")
    REVISIT = ("revisit", "回访", "Revisit")


class SendChannel(Labelled):
    """The channels a message can be sent through: each has a sender behind the outbox."""

    EMAIL = ("email", "电子邮件", "E-mail")
    SMS = ("sms", "短信", "SMS")


LOG_KIND: dict[MessageKind, LogKind] = {
    MessageKind.ACKNOWLEDGEMENT: LogKind.PROGRESS,
    MessageKind.PLAN: LogKind.PROGRESS,
    MessageKind.PROGRESS: LogKind.PROGRESS,
    MessageKind.FEEDBACK: LogKind.PROGRESS,
    MessageKind.CONFIRMATION: LogKind.CONFIRMATION,
    MessageKind.REVISIT: LogKind.PROGRESS,
}
"""The log entry a sent message becomes: the customer was told something (progress), or a commitment
was put in writing (confirmation) — what `flags` reads."""

NEEDS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.PLAN: ("text",),
    MessageKind.PROGRESS: ("text",),
    MessageKind.FEEDBACK: ("cause", "solution", "safeguards"),
    MessageKind.CONFIRMATION: ("commitments",),
}
"""What each message cannot go without: ticket cells, the coordinator's ``text``, or a commitment."""

COMMITMENTS: tuple[str, ...] = ("compensation", "promised_at", "extension_until")
"""The ticket cells that hold a commitment to the customer (SUMMARY §3: confirmed in writing)."""

PLACEHOLDERS: tuple[str, ...] = (
    "customer",
    "ticket_id",
    "category",
    "received",
    "plan_due",
    "promised",
    "cause",
    "solution",
    "safeguards",
    "commitments",
    "text",
    "sender",
)

_OWN_LABELS: dict[str, tuple[str, str]] = {
    "text": ("消息内容", "Message text"),
    "commitments": (
        "承诺（补偿、承诺完成时间或延期）",
        "a commitment (compensation, promised date, extension)",
    ),
}
_PENDING_TEXT = {"zh": "（待节假日安排公布后确定）", "en": "(fixed once the holiday calendar is published)"}


class TemplateError(ValueError):
    """A template naming a placeholder this module does not fill (or written with a stray brace)."""


@dataclass(frozen=True, slots=True)
class Draft:
    """A filled message: its subject (e-mail only), body, the wording findings and the missing cells."""

    kind: MessageKind
    channel: SendChannel
    lang: str
    subject: str
    body: str
    issues: tuple[ReplyIssue, ...]
    missing: tuple[str, ...]
    """Labels, in ``lang``, of what the message needs and the ticket lacks: it cannot be sent yet."""

    @property
    def sendable(self) -> bool:
        return not self.missing


def _when(due: Due, clock: SlaClock, lang: str) -> str:
    if due == PENDING:
        return _PENDING_TEXT[lang]
    if not isinstance(due, datetime):
        return ""
    return due.astimezone(clock.zone).strftime("%Y-%m-%d %H:%M")


def commitment_lines(ticket: Ticket, clock: SlaClock, lang: str) -> list[str]:
    """Each commitment on ``ticket``, one line each, as the confirmation states it."""
    lines = []
    for key in COMMITMENTS:
        value = getattr(ticket, key)
        shown = _when(value, clock, lang) if isinstance(value, datetime) else str(value or "").strip()
        if shown:
            column = TICKETS.column(key)
            lines.append(f"{column.header(lang)}{'：' if lang == 'zh' else ': '}{shown}")
    return lines


def values(ticket: Ticket, clock: SlaClock, lang: str, text: str = "", sender: str = "") -> dict[str, str]:
    """What fills each placeholder for ``ticket`` in ``lang`` (times in the clock's zone)."""
    deadlines = clock.deadlines(ticket)
    category = ticket.category.label(lang) if isinstance(ticket.category, Category) else ""
    joiner = "；" if lang == "zh" else "; "
    return {
        "customer": ticket.customer_name.strip() or ("客户" if lang == "zh" else "customer"),
        "ticket_id": ticket.ticket_id,
        "category": category,
        "received": _when(ticket.received_at, clock, lang),
        "plan_due": _when(deadlines.plan, clock, lang),
        "promised": _when(deadlines.resolve, clock, lang),
        "cause": ticket.cause.strip(),
        "solution": ticket.solution.strip(),
        "safeguards": ticket.safeguards.strip(),
        "commitments": joiner.join(commitment_lines(ticket, clock, lang)),
        "text": text.strip(),
        "sender": sender.strip() or ("客户服务中心" if lang == "zh" else "Customer Service"),
    }


def placeholders(template: str) -> list[str]:
    """The placeholder names ``template`` uses, or `TemplateError` for an unknown one."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise TemplateError(f"the template is not well formed: {exc}") from exc
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise TemplateError(f"unknown placeholder(s) {unknown}; known: {', '.join(PLACEHOLDERS)}")
    return names


def fill(template: str, filled: Mapping[str, str]) -> str:
    """``template`` with its placeholders replaced; lines left empty by a blank value are dropped."""
    placeholders(template)
    text = template.format_map(filled)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip() + "\n"


def _label(key: str, lang: str) -> str:
    if key in _OWN_LABELS:
        zh, en = _OWN_LABELS[key]
        return zh if lang == "zh" else en
    return TICKETS.column(key).header(lang)


def draft(
    kind: MessageKind,
    channel: SendChannel,
    lang: str,
    template: str,
    ticket: Ticket,
    clock: SlaClock,
    text: str = "",
    sender: str = "",
) -> Draft:
    """Fill ``template`` (the text of kind ``kind`` for ``channel`` in ``lang``) from ``ticket``.

    The wording check runs on the whole filled message, so what the coordinator
    typed into ``text`` is checked as the customer will read it.
    """
    filled = values(ticket, clock, lang, text, sender)
    subject = ""
    if channel is SendChannel.EMAIL:
        first, _, template = template.partition("\n")
        if not first.startswith("Subject: "):
            raise TemplateError("an e-mail template must start with a 'Subject: ' line")
        subject = fill(first.removeprefix("Subject: "), filled).strip()
    body = fill(template, filled)
    needed = [key for key in NEEDS.get(kind, ()) if not filled[key]]
    if needed == ["commitments"] and filled["text"]:  # a promise typed in the message is confirmed too
        needed = []
    missing = tuple(_label(key, lang) for key in needed)
    return Draft(kind, channel, lang, subject, body, tuple(check_reply(body)), missing)


def commitments(ticket: Ticket) -> list[str]:
    """The keys of `COMMITMENTS` filled on ``ticket`` (an extension counts once it is requested)."""
    found = [key for key in ("compensation", "promised_at") if _filled(getattr(ticket, key))]
    if ticket.extension_until is not None or ticket.extension_requested_at is not None:
        found.append("extension_until")
    return found


def _filled(value: object) -> bool:
    return bool(value.strip()) if isinstance(value, str) else value is not None


def unconfirmed_commitment(ticket: Ticket, log: Iterable[LogEntry]) -> bool:
    """Whether ``ticket`` holds a commitment and its log no written confirmation (SUMMARY §3)."""
    if not commitments(ticket):
        return False
    return not any(e.kind is LogKind.CONFIRMATION and e.ticket_id == ticket.ticket_id for e in log)


def feedback_off_channel(ticket: Ticket) -> bool:
    """Whether the result feedback was given other than through the customer's preferred channel.

    A feedback whose channel is not recorded did not demonstrably go through the preferred one.
    """
    if ticket.feedback_at is None or not ticket.preferred_channel.strip():
        return False
    return not went_through(ticket.feedback_channel, ticket.preferred_channel)
