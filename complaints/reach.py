"""How a customer is reached (SUMMARY §2.5): the channels people type, understood in either language.

The preferred channel and the feedback channel are free text on the ticket
("短信", "SMS", "电话或短信", "App push"). `channels_in` reads the channels a
text names, so the rule can tell whether the feedback went through the
customer's preferred channel however either was typed.
"""

from __future__ import annotations

import re
from functools import cache

from complaints.enums import Labelled


class ContactChannel(Labelled):
    PHONE = ("phone", "电话", "Phone")
    SMS = ("sms", "短信", "SMS")
    EMAIL = ("email", "电子邮件", "E-mail")
    APP = ("app", "APP推送", "App push")
    WECHAT = ("wechat", "微信", "WeChat")
    VISIT = ("visit", "面谈", "In person")


ALIASES: dict[ContactChannel, tuple[str, ...]] = {
    ContactChannel.PHONE: (
        "电话", "手机", "来电", "致电", "回电", "通话", "热线",
        "phone", "telephone", "tel", "call", "hotline",
    ),
    ContactChannel.SMS: ("短信", "短讯", "短消息", "sms", "text message", "text"),
    ContactChannel.EMAIL: ("电子邮件", "邮件", "邮箱", "e-mail", "email", "mail"),
    ContactChannel.APP: ("app", "推送", "客户端", "push"),
    ContactChannel.WECHAT: ("微信", "wechat", "weixin"),
    ContactChannel.VISIT: ("面谈", "当面", "上门", "营业厅", "in person", "face to face", "visit"),
}  # fmt: skip
"""Words that name each channel; Latin ones match on word boundaries, case-insensitively."""


@cache
def _pattern() -> re.Pattern[str]:
    words = sorted((w for names in ALIASES.values() for w in names), key=len, reverse=True)
    parts = [rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w) for w in words]
    return re.compile("|".join(parts), re.IGNORECASE)


@cache
def _by_word() -> dict[str, ContactChannel]:
    return {w.casefold(): channel for channel, names in ALIASES.items() for w in names}


def channels_in(text: str) -> frozenset[ContactChannel]:
    """The channels ``text`` names ("短信或电话" → SMS and phone); empty when it names none we know."""
    return frozenset(_by_word()[m.group().casefold()] for m in _pattern().finditer(text))


def went_through(used: str, preferred: str) -> bool:
    """Whether a message sent through ``used`` reached the customer by the channel they prefer.

    Known channels are compared as channels (SMS = 短信); text naming none of
    them is compared as typed, ignoring case and surrounding blanks.
    """
    wanted, sent = channels_in(preferred), channels_in(used)
    if wanted and sent:
        return bool(wanted & sent)
    return used.strip().casefold() == preferred.strip().casefold()


_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
_MOBILE = re.compile(r"(?<![0-9])(?:\+?86)?(1[3-9][0-9]{9})(?![0-9])")


def email_in(contact: str) -> str:
    """The first e-mail address written in ``contact`` ("13800138000 / zhang@example.com"), or ""."""
    found = _EMAIL.search(contact)
    return found.group() if found else ""


def mobile_in(contact: str) -> str:
    """The first mainland mobile number in ``contact``, as 11 digits (separators dropped), or ""."""
    found = _MOBILE.search(re.sub(r"(?<=[0-9])[ \-.](?=[0-9])", "", contact))
    return found.group(1) if found else ""
