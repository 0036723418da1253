"""Issue 15 item 7: what the customer is told — templates per step and channel, and the two rules on it."""

from pathlib import Path

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import Flag, LogKind
from complaints.flags import evaluate
from complaints.messages import MessageKind, SendChannel, draft
from complaints.model import LogEntry
from complaints.sla import SlaClock
from tests.factories import local, make_ticket

CLOCK = SlaClock(WorkCalendar())
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "customer"
NOW = local(2026, 3, 9, 10, 0)  # the clock is pinned: Monday 9 March 2026, a week after receipt

DONE = {
    "acknowledged_at": local(2026, 3, 2, 10),
    "plan_at": local(2026, 3, 3, 10),
    "resolved_at": local(2026, 3, 6, 10),
    "cause": "光交箱过载",
    "solution": "已扩容光交箱",
    "safeguards": "每月巡检一次",
    "compensation": "赠送3个月提速",
    "promised_at": local(2026, 3, 6, 18),
}


def template(kind: MessageKind, channel: SendChannel, lang: str) -> str:
    return (TEMPLATES / f"{kind.value}.{channel.value}.{lang}.txt").read_text(encoding="utf-8")


# what each message says besides the ticket number and the customer's name, in Chinese and English
SAYS = {
    MessageKind.ACKNOWLEDGEMENT: ("2026-03-05 23:59", "2026-03-05 23:59"),  # plan due: 3 working days
    MessageKind.PLAN: ("先临时扩容", "先临时扩容"),
    MessageKind.PROGRESS: ("先临时扩容", "先临时扩容"),
    MessageKind.FEEDBACK: ("每月巡检一次", "每月巡检一次"),
    MessageKind.CONFIRMATION: ("补偿承诺：赠送3个月提速", "Compensation promised: 赠送3个月提速"),
    MessageKind.REVISIT: ("是否满意", "satisfied"),
}


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("channel", list(SendChannel))
@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_template_is_filled_from_the_ticket_in_both_languages_and_passes_the_wording_check(
    kind, channel, lang
):
    ticket = make_ticket(**DONE)
    text = "先临时扩容，3天内完成" if kind in (MessageKind.PLAN, MessageKind.PROGRESS) else ""
    made = draft(kind, channel, lang, template(kind, channel, lang), ticket, CLOCK, text, "深圳分公司")
    assert made.sendable and made.missing == ()
    assert made.issues == ()  # our own words never need rewording
    assert ticket.ticket_id in made.body and "张先生" in made.body
    assert "深圳分公司" in made.body
    assert SAYS[kind][lang == "en"] in made.body
    assert "{" not in made.body and "\n\n\n" not in made.body
    if channel is SendChannel.EMAIL:
        assert ticket.ticket_id in made.subject
    else:
        assert made.subject == ""
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in template(kind, channel, lang))
    assert chinese is (lang == "zh")


def test_feedback_states_cause_solution_and_safeguards_and_cannot_go_without_them():
    ticket = make_ticket(**{**DONE, "safeguards": "", "cause": ""})
    for lang, labels in (("zh", ("原因", "后续保障")), ("en", ("Cause", "Safeguards"))):
        made = draft(
            MessageKind.FEEDBACK,
            SendChannel.SMS,
            lang,
            template(MessageKind.FEEDBACK, SendChannel.SMS, lang),
            ticket,
            CLOCK,
        )
        assert made.missing == labels and not made.sendable


@pytest.mark.parametrize(
    ("kind", "fields", "text", "sendable"),
    [
        (MessageKind.PLAN, {}, "", False),  # a plan message is the plan: the coordinator writes it
        (MessageKind.PLAN, {}, "更换光猫", True),
        (MessageKind.PROGRESS, {}, "", False),
        (MessageKind.CONFIRMATION, {}, "", False),  # nothing promised, nothing to confirm
        (MessageKind.CONFIRMATION, {"promised_at": local(2026, 3, 6, 18)}, "", True),
        (MessageKind.CONFIRMATION, {}, "减免当月月租", True),
        (MessageKind.ACKNOWLEDGEMENT, {}, "", True),
        (MessageKind.REVISIT, {}, "", True),
    ],
)
def test_a_message_lacking_what_it_states_is_not_sendable(kind, fields, text, sendable):
    made = draft(
        kind, SendChannel.SMS, "zh", template(kind, SendChannel.SMS, "zh"), make_ticket(**fields), CLOCK, text
    )
    assert made.sendable is sendable


@pytest.mark.parametrize(
    ("lang", "text", "phrase", "kind"),
    [
        ("zh", "我们会尽快处理", "尽快", "unquantified"),
        ("zh", "这个没办法退费", "没办法", "negative"),
        ("en", "We will fix it as soon as possible.", "as soon as possible", "unquantified"),
        ("en", "We cannot refund you.", "cannot", "negative"),
    ],
)
def test_the_coordinators_text_in_a_template_shows_the_wording_findings(lang, text, phrase, kind):
    made = draft(
        MessageKind.PROGRESS,
        SendChannel.EMAIL,
        lang,
        template(MessageKind.PROGRESS, SendChannel.EMAIL, lang),
        make_ticket(),
        CLOCK,
        text,
    )
    assert [(i.kind, i.phrase.casefold()) for i in made.issues] == [(kind, phrase)]
    assert made.issues[0].suggestion
    assert made.sendable  # findings are advice: the coordinator decides


# --- the two flags --------------------------------------------------------------------------------------


FED_BACK = {**DONE, "compensation": "", "promised_at": None, "feedback_at": local(2026, 3, 6, 16)}


@pytest.mark.parametrize(
    ("preferred", "used", "flagged"),
    [
        ("短信", "短信", False),
        ("短信", "SMS", False),  # one channel, typed in the other language
        ("SMS", "sms text", False),
        ("电话或短信", "电话", False),  # either channel the customer named
        ("短信", "电话", True),
        ("App push", "E-mail", True),
        ("短信", "", True),  # a feedback whose channel nobody recorded did not demonstrably reach them so
        ("", "电话", False),  # no preference recorded: nothing to compare
        ("门口留言", "门口留言", False),  # a channel we do not know, compared as typed
    ],
)
def test_feedback_not_through_the_preferred_channel_is_flagged(preferred, used, flagged):
    ticket = make_ticket(**FED_BACK, preferred_channel=preferred, feedback_channel=used)
    assert (Flag.FEEDBACK_CHANNEL in evaluate(ticket, CLOCK, NOW).flags) is flagged
    assert Flag.FEEDBACK_CHANNEL.label("zh") == "未经首选渠道反馈"
    assert Flag.FEEDBACK_CHANNEL.label("en") == "Feedback not via preferred channel"
    assert not Flag.FEEDBACK_CHANNEL.is_overdue


def test_no_feedback_yet_is_not_flagged_for_its_channel():
    ticket = make_ticket(**{**FED_BACK, "feedback_at": None}, preferred_channel="短信")
    assert Flag.FEEDBACK_CHANNEL not in evaluate(ticket, CLOCK, NOW).flags


TICKET_ID = "SZ01-20260302-0001"


def confirmation(at, ticket_id=TICKET_ID):
    return LogEntry(ticket_id, at, LogKind.CONFIRMATION, "已短信确认赠送3个月提速", channel="短信")


@pytest.mark.parametrize(
    ("fields", "log", "flagged"),
    [
        ({}, [], False),  # no commitment
        ({"compensation": "赠送3个月提速"}, [], True),
        ({"promised_at": local(2026, 3, 6, 18)}, [], True),
        (
            {
                "acknowledged_at": local(2026, 3, 2, 10),
                "extension_requested_at": local(2026, 3, 4, 10),
                "extension_reason": "需厂家配合",
                "extension_customer_informed": True,
                "extension_until": local(2026, 3, 12, 18),
            },
            [],
            True,
        ),
        ({"compensation": "赠送3个月提速"}, [confirmation(local(2026, 3, 3, 9))], False),
        ({"promised_at": local(2026, 3, 6, 18)}, [confirmation(local(2026, 3, 3, 9))], False),
        # a progress update or another ticket's confirmation is no written confirmation of this one
        (
            {"compensation": "赠送3个月提速"},
            [LogEntry(TICKET_ID, local(2026, 3, 3), LogKind.PROGRESS, "x")],
            True,
        ),
        ({"compensation": "赠送3个月提速"}, [confirmation(local(2026, 3, 3), "SZ01-20260302-0002")], True),
        # a ticket imported from a branch's ledger: its promises are history
        ({"compensation": "赠送3个月提速", "imported_at": local(2026, 3, 3)}, [], False),
        ({"compensation": "补偿", "cancelled_at": local(2026, 3, 3), "cancel_reason": "重复"}, [], False),
    ],
)
def test_a_commitment_without_a_written_confirmation_in_the_log_is_flagged(fields, log, flagged):
    ticket = make_ticket(**fields)
    assert (Flag.UNCONFIRMED_COMMITMENT in evaluate(ticket, CLOCK, NOW, log=log).flags) is flagged
    assert Flag.UNCONFIRMED_COMMITMENT.label("zh") == "承诺未书面确认"
    assert Flag.UNCONFIRMED_COMMITMENT.label("en") == "Commitment not confirmed in writing"
