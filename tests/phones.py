"""Real-world spellings of phone numbers, for the masker's test and the battery's masking check.

Each row: how a number is written, how a user who may not see it must see it,
and the number's own digits (national, without country code) — the digits a
masked text must never hold in order, whatever stands between them.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple


class Spelling(NamedTuple):
    written: str
    masked: str
    digits: str


MOBILES = [
    Spelling("13800138000", "138****8000", "13800138000"),
    Spelling("138 0013 8000", "138 **** 8000", "13800138000"),
    Spelling("138-0013-8000", "138-****-8000", "13800138000"),
    Spelling("138.0013.8000", "138.****.8000", "13800138000"),
    Spelling("138·0013·8000", "138·****·8000", "13800138000"),
    Spelling("138/0013/8000", "138/****/8000", "13800138000"),
    Spelling("138 001 38000", "138 *** *8000", "13800138000"),
    Spelling("1380 013 8000", "138* *** 8000", "13800138000"),
    Spelling("138-0013 8000", "138-**** 8000", "13800138000"),
    Spelling("138 - 0013 - 8000", "138 - **** - 8000", "13800138000"),
    Spelling("+8613912345678", "+86139****5678", "13912345678"),
    Spelling("+86 139 1234 5678", "+86 139 **** 5678", "13912345678"),
    Spelling("+86-139-1234-5678", "+86-139-****-5678", "13912345678"),
    Spelling("(+86)13912345678", "(+86)139****5678", "13912345678"),
    Spelling("0086 139 1234 5678", "0086 139 **** 5678", "13912345678"),
    Spelling("008613912345678", "0086139****5678", "13912345678"),
    Spelling("86 13912345678", "86 139****5678", "13912345678"),
    Spelling("８６１３９１２３４５６７８", "８６１３９****５６７８", "13912345678"),
    Spelling("１３９１２３４５６７８", "１３９****５６７８", "13912345678"),
    Spelling("１３９－１２３４－５６７８", "１３９－****－５６７８", "13912345678"),
    Spelling("１３９　１２３４　５６７８", "１３９　****　５６７８", "13912345678"),
    Spelling("＋８６ １５０．１２３４．９８７６", "＋８６ １５０．****．９８７６", "15012349876"),
    Spelling("18612345678", "186****5678", "18612345678"),
    Spelling("199 8765 4321", "199 **** 4321", "19987654321"),
]

LANDLINES = [
    Spelling("0755-83201234", "0755-****1234", "075583201234"),
    Spelling("075583201234", "0755****1234", "075583201234"),
    Spelling("(0755)83201234", "(0755)****1234", "075583201234"),
    Spelling("(0755) 8320 1234", "(0755) **** 1234", "075583201234"),
    Spelling("（０７５５）８３２０１２３４", "（０７５５）****１２３４", "075583201234"),
    Spelling("0755 8320 1234", "0755 **** 1234", "075583201234"),
    Spelling("0755.8320.1234", "0755.****.1234", "075583201234"),
    Spelling("010-62345678", "010-****5678", "01062345678"),
    Spelling("(010)6234 5678", "(010)**** 5678", "01062345678"),
    Spelling("020 8888 1234", "020 **** 1234", "02088881234"),
    Spelling("0571-8765432", "0571-***5432", "05718765432"),
    Spelling("+86 755 8320 1234", "+86 755 **** 1234", "075583201234"),
    Spelling("+86-10-62345678", "+86-10-****5678", "01062345678"),
    Spelling("0086 (0)21 6234 5678", "0086 (0)21 **** 5678", "02162345678"),
    Spelling("0755-83201234-801", "0755-****1234-801", "075583201234"),
]

IN_TEXT = [
    Spelling("请回电13800138000，谢谢", "请回电138****8000，谢谢", "13800138000"),
    Spelling("王先生139 1234 5678", "王先生139 **** 5678", "13912345678"),
    Spelling("电话：0755-83201234/13800138000", "电话：0755-****1234/138****8000", "075583201234"),
    Spelling("（手机１３８．００１３．８０００）", "（手机１３８．****．８０００）", "13800138000"),
    Spelling("Call +86 138 0013 8000 after 18:00", "Call +86 138 **** 8000 after 18:00", "13800138000"),
]

PHONES = MOBILES + LANDLINES + IN_TEXT
"""Every spelling that holds a phone number."""

NOT_PHONES = [
    "工单 SZ01-20260302-0001 于 2026-03-02 受理",
    "订单号 913800138000123",  # part of a longer number
    "2026-09-28 09:10 至 2026.10.08",
    "宽带账号 0755 123",
    "金额 1380.00 元，12 月",
    "身份证 440301199001011234",
    "微信 abc_123",
]
"""Texts with numbers that are not phone numbers: the masker leaves them as they are."""


def plain(text: str) -> str:
    """``text`` with full-width and other decimal digits as 0–9 and compatibility forms folded."""
    return "".join(
        str(unicodedata.decimal(ch)) if unicodedata.decimal(ch, None) is not None else ch
        for ch in unicodedata.normalize("NFKC", text)
    )


def holds_number(text: str, digits: str) -> bool:
    """Whether ``text`` shows all of ``digits`` in order, with at most three other characters between two.

    Independent of the masker: it knows the number and looks for it however
    it was spelled (a landline's leading 0 may be missing after a country code).
    """
    core = digits[1:] if digits.startswith("0") else digits
    pattern = r"[^0-9]{0,3}".join(core)
    return re.search(pattern, plain(text)) is not None


def unmasked(text: str) -> list[str]:
    """The table's numbers that ``text`` shows in full."""
    return sorted({s.digits for s in PHONES if holds_number(text, s.digits)})
