"""Phone numbers keep their first three and last four digits, in the contact field and inside text."""

from __future__ import annotations

import pytest

from complaints.contacts import mask_phone, mask_phones_inside


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("13800138000", "138****8000"),
        ("138-0013-8000", "138-****-8000"),
        ("+86 138 0013 8000", "+86 1** **** 8000"),
        ("0755-12345678", "075*-****5678"),
        ("12345", "***45"),
        ("微信 abc", "微信 abc"),
    ],
)
def test_a_contact_keeps_only_its_first_three_and_last_four_digits(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("请回电13800138000，谢谢", "请回电138****8000，谢谢"),
        ("座机 0755-83201234 或 020 12345678", "座机 075*-****1234 或 020 ****5678"),
        ("手机 +86 138 0013 8000。", "手机 +86 1** **** 8000。"),
        ("工单 SZ01-20260302-0001 于 2026-03-02 受理", "工单 SZ01-20260302-0001 于 2026-03-02 受理"),
        ("订单号 913800138000123", "订单号 913800138000123"),  # part of a longer number: not a phone
    ],
)
def test_phone_numbers_inside_text_are_masked_and_other_numbers_left(text: str, shown: str) -> None:
    assert mask_phones_inside(text) == shown
