"""One masker finds every real-world spelling of a phone number and keeps only enough to recognise it."""

from __future__ import annotations

import re
import unicodedata

import pytest

from complaints.contacts import _WIDE_PUNCTUATION, customer_key, mask_phones
from tests.phones import NOT_PHONES, PHONES, Spelling, holds_number, plain


@pytest.mark.parametrize("spelling", PHONES, ids=[s.written for s in PHONES])
def test_every_spelling_of_a_number_is_masked_in_place(spelling: Spelling) -> None:
    shown = mask_phones(spelling.written)
    assert shown == spelling.masked
    assert holds_number(spelling.written, spelling.digits)  # the oracle sees the number unmasked…
    assert not holds_number(shown, spelling.digits)  # …and not once masked


@pytest.mark.parametrize("spelling", PHONES, ids=[s.written for s in PHONES])
def test_a_masked_number_never_keeps_five_of_its_own_digits_in_a_row(spelling: Spelling) -> None:
    national = spelling.digits[1:] if spelling.digits.startswith("0") else spelling.digits
    runs = re.findall(r"[0-9]{5,}", plain(mask_phones(spelling.written)))
    assert not [run for run in runs if run[-5:] in national and not national.startswith(run[-5:])], runs


@pytest.mark.parametrize("text", NOT_PHONES)
def test_dates_ticket_numbers_amounts_and_longer_numbers_are_left_as_typed(text: str) -> None:
    assert mask_phones(text) == text


@pytest.mark.parametrize(
    ("contact", "shown"),
    [
        ("83201234", "****1234"),
        ("8320-123", "***0-123"),
        ("13800138000", "138****8000"),
        ("微信 abc", "微信 abc"),
    ],
)
def test_a_contact_field_masks_a_local_number_typed_without_its_area_code(contact: str, shown: str) -> None:
    assert mask_phones(contact, contact=True) == shown
    assert mask_phones("门牌 83201234") == "门牌 83201234"  # in free text, 8 digits alone are not a phone


def test_masking_twice_changes_nothing_more() -> None:
    once = mask_phones("王先生 138-0013-8000，座机 (0755)8320 1234")
    assert mask_phones(once) == once


@pytest.mark.parametrize(
    ("contact", "key"),
    [("138-0013 8000", "13800138000"), ("+86 13800138000", "13800138000"), (" WeChat ", "wechat"), ("", "")],
)
def test_one_customer_is_recognised_however_the_number_is_written(contact: str, key: str) -> None:
    assert customer_key(contact) == key


def _number_punctuation() -> dict[str, str]:
    """Every non-ASCII character (BMP) whose NFKC form is punctuation numbers are written with."""
    found = {}
    for code in range(0x80, 0x10000):
        ch = chr(code)
        if unicodedata.decomposition(ch) and unicodedata.normalize("NFKC", ch) in "+()-./ ":
            found[ch] = unicodedata.normalize("NFKC", ch)
    return found


@pytest.mark.parametrize(
    "separator", [ch for ch, plain in _number_punctuation().items() if plain in " -./"], ids=ascii
)
def test_a_number_grouped_with_any_form_of_blank_hyphen_dot_or_slash_is_masked(separator: str) -> None:
    written = f"客户电话138{separator}0013{separator}8000，请回电"
    assert mask_phones(written) == f"客户电话138{separator}****{separator}8000，请回电"


def test_every_form_of_number_punctuation_is_read_as_part_of_a_number() -> None:
    assert sorted(_number_punctuation()) == sorted(_WIDE_PUNCTUATION)
