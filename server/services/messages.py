"""Messages to the customer: a template filled from the ticket, previewed with the wording findings, sent.

Sending is a change through the one door: the message becomes an entry of the
ticket's log (a progress update, or a written confirmation), the step it
carries out is stamped when it is the first (the acknowledgement, the plan, the
result feedback with the channel it went through), the ticket is settled by the
rules — so its flags see the new entry — and the message is queued in the
outbox for its channel's sender, in the same transaction.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from complaints.messages import LOG_KIND, Draft, MessageKind, SendChannel, draft
from complaints.model import LogEntry, Ticket
from complaints.reach import email_in, mobile_in, went_through
from complaints.steps import STAMP, Step, StepRefused, take
from complaints.validation import LOG_COLUMNS, check_value
from server import clock
from server.services.changes import Change, Proposal
from server.services.errors import Invalid, Refused
from server.services.notices import Notice, enqueue
from server.services.sync import Pending, commit
from server.services.tickets import branch_of, find_ticket
from server.storage.rows import clock_for, read_tickets, ticket_of
from server.storage.writes import insert_log

STEP_OF: dict[MessageKind, Step] = {
    MessageKind.ACKNOWLEDGEMENT: Step.ACKNOWLEDGE,
    MessageKind.PLAN: Step.PLAN,
    MessageKind.FEEDBACK: Step.FEEDBACK,
}
"""The step a message carries out when the ticket has not taken it yet."""


@dataclass(frozen=True, slots=True)
class Request:
    """What a door asks for: which message, through which channel, in which language, with what text."""

    kind: MessageKind
    channel: SendChannel
    lang: str
    text: str = ""

    @classmethod
    def parse(cls, kind: str, channel: str, lang: str, text: str) -> Request:
        """A request from a door's strings, or `Invalid` naming the field."""
        try:
            parsed_kind = MessageKind(kind)
        except ValueError:
            raise Invalid(
                "bad_kind", f"unknown message {kind!r} / 未知的消息类型", {"field": "kind"}
            ) from None
        try:
            parsed_channel = SendChannel(channel)
        except ValueError:
            raise Invalid(
                "bad_channel", f"unknown channel {channel!r} / 未知的渠道", {"field": "channel"}
            ) from None
        if lang not in ("zh", "en"):
            raise Invalid("bad_lang", "lang is zh or en / 语言须为 zh 或 en", {"field": "lang"})
        problem = check_value("text", text, LOG_COLUMNS["text"], clock.now())  # as any log entry's text
        if problem is not None:
            raise Invalid("bad_text", f"{problem.en} / {problem.zh}", {"field": "text"})
        return cls(parsed_kind, parsed_channel, lang, text)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A filled message for one ticket and the address it would go to ("" when the contact has none)."""

    draft: Draft
    to_addr: str
    ticket: Ticket


def template_text(kind: MessageKind, channel: SendChannel, lang: str) -> str:
    """The raw text of ``templates/customer/<kind>.<channel>.<lang>.txt`` (filled by the core, not Jinja)."""
    env = current_app.jinja_env
    assert env.loader is not None
    source, _, _ = env.loader.get_source(env, f"customer/{kind.value}.{channel.value}.{lang}.txt")
    return source


def address(ticket: Ticket, channel: SendChannel) -> str:
    """Where ``channel`` reaches the customer: the mobile number or e-mail address in the contact."""
    return mobile_in(ticket.contact) if channel is SendChannel.SMS else email_in(ticket.contact)


def prepare(session: Session, sync_key: str, scope: int | None, request: Request) -> Prepared:
    """Fill the requested message for ticket ``sync_key`` (as the caller, confined to ``scope``, sees it)."""
    row = find_ticket(session, sync_key, scope)
    branch = branch_of(session, row.branch_id)
    ticket = ticket_of(read_tickets(session, [sync_key])[sync_key], branch.code)
    return _prepared(ticket, branch.name or branch.code, branch.timezone, request)


def _prepared(ticket: Ticket, sender: str, zone: str, request: Request) -> Prepared:
    clock = clock_for(zone, current_app.config.get("CALENDAR_FILE"))
    template = template_text(request.kind, request.channel, request.lang)
    made = draft(request.kind, request.channel, request.lang, template, ticket, clock, request.text, sender)
    return Prepared(made, address(ticket, request.channel), ticket)


def send_message(change: Change, sync_key: str, request: Request) -> tuple[Prepared, LogEntry]:
    """Send the requested message: log it, stamp its step if first, settle the ticket, queue it."""
    row = read_tickets(change.session, [sync_key], lock=True)[sync_key]
    before = ticket_of(row, change.branch.code)
    prepared = _prepared(before, change.branch.name or change.branch.code, change.branch.timezone, request)
    made = prepared.draft
    if not made.sendable:
        missing = "、".join(made.missing)
        raise Refused(
            "message_incomplete",
            f"fill in {missing} first / 请先填写{missing}",
            {"missing": list(made.missing)},
        )
    if not prepared.to_addr:
        what = (
            "a mobile number / 手机号" if request.channel is SendChannel.SMS else "an e-mail address / 邮箱"
        )
        raise Refused("no_address", f"the ticket's contact holds no {what}", {"field": "contact"})
    used = request.channel.label(request.lang)
    after = _step_taken(change, before, request.kind, used)
    text = f"{made.subject}\n{made.body}" if made.subject else made.body
    entry = LogEntry(
        before.ticket_id, change.now, LOG_KIND[request.kind], text.strip(), change.actor.name, used
    )
    enqueue(change.session, _notice(change, before, request, prepared, entry), change.now)
    # logged before the ticket is settled, so the rules read it (a confirmation clears its flag)
    insert_log(change.session, change.stamp, change.branch.id, [(sync_key, entry)])
    commit(change, Pending(proposals={sync_key: Proposal(row, before, after)}))
    return prepared, entry


def _step_taken(change: Change, ticket: Ticket, kind: MessageKind, used: str) -> Ticket:
    """``ticket`` with the step ``kind`` carries out stamped, if it is the first; the feedback's channel."""
    step = STEP_OF.get(kind)
    if step is None:
        return ticket
    if getattr(ticket, STAMP[step]) is not None:
        if step is Step.FEEDBACK and _better_channel(ticket, used):
            return dataclasses.replace(ticket, feedback_channel=used)
        return ticket
    if step is Step.FEEDBACK:
        ticket = dataclasses.replace(ticket, feedback_channel=used)
    try:
        stamped, _ = take(step, ticket, change.now, change.actor.name, change.clock)
    except StepRefused as exc:
        raise Refused("step_refused", f"{exc.en} / {exc.zh}", {"sync_key": ticket.sync_key}) from exc
    return stamped


def _better_channel(ticket: Ticket, used: str) -> bool:
    """Whether a feedback sent again through ``used`` is the one to record: none was recorded, or this
    one reaches the customer the way they prefer and the recorded one did not."""
    if not ticket.feedback_channel.strip():
        return True
    preferred = ticket.preferred_channel
    return went_through(used, preferred) and not went_through(ticket.feedback_channel, preferred)


def _notice(change: Change, ticket: Ticket, request: Request, prepared: Prepared, entry: LogEntry) -> Notice:
    return Notice(
        kind=f"customer-{request.kind.value}",
        dedupe_key=f"customer:{entry.sync_key}",
        recipient=ticket.customer_name,
        to_addr=prepared.to_addr,
        lang=request.lang,
        subject=prepared.draft.subject,
        body=prepared.draft.body,
        branch_id=change.branch.id,
        ticket_key=ticket.sync_key,
        channel=request.channel.value,
    )


def issues_json(made: Draft) -> list[dict[str, Any]]:
    """The wording findings of a draft, for an answer or a page."""
    return [
        {"kind": i.kind, "phrase": i.phrase, "offset": i.offset, "suggestion": i.suggestion}
        for i in made.issues
    ]
