"""Phone numbers hidden from people who may not see them: in the contact field and inside free text.

One rule for every place a number leaves the server (consolidated workbooks,
dashboard pages, e-mail): keep the first three and the last four digits.
"""

from __future__ import annotations

import re


def mask_phone(text: str) -> str:
    """Hide the middle digits of a phone number: 13800138000 → 138****8000.

    Every digit but the first three and the last four is masked (all but the
    last two in numbers of fewer than 8 digits); other characters stay.
    """
    if len(text) == 11 and text.isdigit():  # a mainland mobile number, the usual case
        return f"{text[:3]}****{text[7:]}"
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if not digits:
        return text
    shown = digits[-2:] if len(digits) < 8 else digits[:3] + digits[-4:]
    hidden = set(digits).difference(shown)
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


_PHONE_INSIDE = re.compile(
    r"(?<![0-9])(?:\+?86[- ]?)?"  # the country code, if written
    r"(?:1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}|0[1-9][0-9]{1,2}[- ]?[0-9]{7,8})"  # mobile | landline
    r"(?![0-9])"
)
"""Mainland mobile numbers and landlines with their area code (spaces or hyphens between the groups,
+86 in front or not), not part of a longer number."""


def mask_phones_inside(text: str) -> str:
    """``text`` with every phone number in it masked as `mask_phone` masks a contact."""
    return _PHONE_INSIDE.sub(lambda m: mask_phone(m.group()), text)


def customer_key(contact: str) -> str:
    """Who a contact belongs to, for telling one customer's complaints apart from another's.

    The last eleven digits of a number written with separators or a country
    code (138-0013 8000, +86 13800138000 → 13800138000); otherwise the text
    without surrounding blanks, case folded. Empty for no contact.
    """
    digits = re.sub(r"\D", "", contact)
    return digits[-11:] if len(digits) >= 11 else contact.strip().casefold()
