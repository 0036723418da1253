"""Phone numbers hidden from people who may not see them, wherever they are written; who a contact is.

One masker for every place a number leaves the server (API answers, dashboard
pages, e-mail, exports, logs): `mask_phones` finds mainland mobile numbers and
landlines however people type them — with or without +86 / 0086 / 86, any
grouping, spaces, dots, hyphens, slashes or middle dots between the digits,
the area code in parentheses, full-width digits and punctuation — and keeps
enough to recognise one: a mobile's first three and last four digits
(138****8000), a landline's area code and last four (0755-****1234). The
digits are found in a normalised copy of the text (NFKC, every decimal digit
as 0–9) and hidden in the original, so everything else stays as typed.
"""

from __future__ import annotations

import re
import unicodedata

_SEP = r"[ \t\-./·・\u2010-\u2015\u2212]{0,3}"
"""What may stand between two digits of a number: up to three blanks, hyphens, dots, slashes, middle dots."""

_PHONE = re.compile(
    r"(?<![0-9])"  # not the tail of a longer number
    rf"(?P<prefix>(?:\(?(?:\+|00){_SEP}86\)?|86){_SEP})?"  # the country code, if written
    rf"(?:(?P<mobile>1[3-9](?:{_SEP}[0-9]){{9}})"  # a mobile number, grouped any way
    rf"|(?P<area>\(?(?(prefix)(?:\(0\){_SEP}|0)?|0)(?:10|2[0-9]|[3-9][0-9]{{2}})\)?){_SEP}"  # area code
    rf"(?P<local>[1-9](?:{_SEP}[0-9]){{6,7}}))"  # and a local number of 7 or 8 digits
    r"(?![0-9])"  # not the head of a longer number
)
_LOCAL = re.compile(rf"(?<![0-9])[2-9](?:{_SEP}[0-9]){{6,7}}(?![0-9])")
"""A local landline number without its area code: a phone only where a contact is expected."""


def _normalised(text: str) -> str:
    """``text`` kept the same length: each character in its plain form (NFKC, digits 0–9) if that is one."""
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch)
            continue
        digit = unicodedata.decimal(ch, None)
        if digit is not None:
            out.append(str(digit))
            continue
        plain = unicodedata.normalize("NFKC", ch)
        out.append(plain if len(plain) == 1 else ch)
    return "".join(out)


def _digits(plain: str, start: int, end: int) -> list[int]:
    return [i for i in range(start, end) if "0" <= plain[i] <= "9"]


def mask_phones(text: str, contact: bool = False) -> str:
    """``text`` with every phone number in it masked; other numbers (dates, ticket numbers, amounts) left.

    With ``contact`` (the text is a contact field) a bare local number of 7–8
    digits is masked too, keeping its last four.
    """
    if not text or not any(ch.isdigit() for ch in text):
        return text
    plain = _normalised(text)
    hidden: list[int] = []
    for found in _PHONE.finditer(plain):
        if found.group("mobile") is not None:
            hidden += _digits(plain, *found.span("mobile"))[3:7]
        else:
            hidden += _digits(plain, *found.span("local"))[:-4]
    if contact and not hidden:
        for found in _LOCAL.finditer(plain):
            hidden += _digits(plain, *found.span())[:-4]
    if not hidden:
        return text
    chars = list(text)
    for i in hidden:
        chars[i] = "*"
    return "".join(chars)


def customer_key(contact: str) -> str:
    """Who a contact belongs to, for telling one customer's complaints apart from another's.

    The last eleven digits of a number written with separators or a country
    code (138-0013 8000, +86 13800138000 → 13800138000); otherwise the text
    without surrounding blanks, case folded. Empty for no contact.
    """
    digits = re.sub(r"\D", "", contact)
    return digits[-11:] if len(digits) >= 11 else contact.strip().casefold()
