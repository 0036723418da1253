"""Phone numbers hidden from people who may not see them, wherever they are written; who a contact is.

One masker for every place a number leaves the server (API answers, dashboard
pages, e-mail, exports, logs): `mask_phones` finds mainland mobile numbers and
landlines however people type them — with or without +86 / 0086 / 86, any
grouping, spaces, dots, hyphens, slashes or middle dots between the digits,
the area code in parentheses, full-width digits and punctuation — and keeps
enough to recognise one: a mobile's first three and last four digits
(138****8000), a landline's area code and last four (0755-****1234). Numbers
are looked for in a plain copy of each run of digits and punctuation (NFKC,
every decimal digit as 0–9) and hidden in the original, so everything else
stays as typed.
"""

from __future__ import annotations

import functools
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
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_LOCAL = re.compile(rf"(?<![0-9])[2-9](?:{_SEP}[0-9]){{6,7}}(?![0-9])")
"""A local landline number without its area code: a phone only where a contact is expected."""
_PLAIN_PUNCTUATION = frozenset("+()-./ ")
_WIDE_PUNCTUATION = (
    "\xa0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2024\u202f\u205f"
    "\u207a\u207d\u207e\u208a\u208d\u208e\u3000\ufb29\ufe35\ufe36\ufe52\ufe59\ufe5a\ufe62\ufe63"
    "\uff08\uff09\uff0b\uff0d\uff0e\uff0f"
)
"""The non-ASCII characters whose NFKC form is one of `_PLAIN_PUNCTUATION` (full-width, small, super- and
subscript forms, wide spaces): listed, so finding the runs of a number needs no pass over Unicode."""


@functools.cache
def _plain_forms() -> dict[int, str]:
    """Non-ASCII characters read as a digit or as punctuation numbers are written with → their plain form.

    One character for one, so positions in the plain copy are positions in the text. Built on the
    first run that is not plain ASCII (a pass over Unicode: most texts never need it).
    """
    table: dict[int, str] = {}
    for code in range(0x80, 0x10000):
        ch = chr(code)
        if ch.isdecimal():  # exactly the characters with a decimal digit value
            table[code] = str(unicodedata.decimal(ch))
        elif unicodedata.decomposition(ch):  # NFKC changes no character without a decomposition
            plain = unicodedata.normalize("NFKC", ch)
            if plain in _PLAIN_PUNCTUATION:
                table[code] = plain
    return table


@functools.cache
def _islands() -> re.Pattern[str]:
    """Runs of digits and of what numbers are written with (any form), long enough to hold a number.

    `_PHONE` is tried only inside them: most text holds none, and a run is
    maximal, so the lookarounds see there what they would see in the text.
    A digit is any decimal digit (``\\d``: those of `_plain_forms` and a few
    beyond the BMP, which the plain copy keeps as they are, so no number is
    found across them, as none is across the edge of a run).
    """
    starts = "".join(re.escape(ch) for ch in _WIDE_PUNCTUATION if unicodedata.normalize("NFKC", ch) in "+(")
    others = re.escape(_WIDE_PUNCTUATION)
    return re.compile(rf"[\d+({starts}][\d+() \t\-./·・\u2010-\u2015\u2212{others}]{{6,}}")


def _digits(plain: str, start: int, end: int, offset: int) -> list[int]:
    """Positions in the text (``plain`` begins at ``offset``) of the digits in ``plain[start:end]``."""
    return [offset + i for i in range(start, end) if "0" <= plain[i] <= "9"]


def mask_phones(text: str, contact: bool = False) -> str:
    """``text`` with every phone number in it masked; other numbers (dates, ticket numbers, amounts) left.

    With ``contact`` (the text is a contact field) a bare local number of 7–8
    digits is masked too, keeping its last four.
    """
    if len(text) == 11 and _MOBILE.fullmatch(text):  # a contact as most are typed
        return f"{text[:3]}****{text[7:]}"
    if len(text) < 7:  # the shortest number masked: a 7-digit local one
        return text
    hidden: list[int] = []
    runs = [(run.start(), run.group()) for run in _islands().finditer(text)]
    for start, run in runs:
        plain = run if run.isascii() else run.translate(_plain_forms())
        for found in _PHONE.finditer(plain):
            if found.group("mobile") is not None:
                hidden += _digits(plain, *found.span("mobile"), start)[3:7]
            else:
                hidden += _digits(plain, *found.span("local"), start)[:-4]
    if contact and not hidden:
        for start, run in runs:
            plain = run if run.isascii() else run.translate(_plain_forms())
            for found in _LOCAL.finditer(plain):
                hidden += _digits(plain, *found.span(), start)[:-4]
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
