"""The evidence checklist and the file checks of `complaints.evidence`."""

from __future__ import annotations

import pytest

from complaints.enums import Category
from complaints.evidence import (
    AMR,
    DEFAULT_CHECKLIST,
    GIF,
    JPEG,
    M4A,
    MP3,
    OGG,
    PDF,
    PNG,
    TEXT,
    WAV,
    WEBP,
    EvidenceError,
    EvidenceKind,
    check_file,
    missing,
    missing_text,
    parse_checklist,
)

K = EvidenceKind


@pytest.mark.parametrize(
    ("category", "present", "expected"),
    [
        (Category.BILLING_DISPUTE, set(), (K.BILL, K.CALL_RECORDS)),
        (Category.BILLING_DISPUTE, {K.BILL}, (K.CALL_RECORDS,)),
        (Category.BILLING_DISPUTE, {K.CALL_RECORDS, K.SCREENSHOT}, (K.BILL,)),
        (Category.BILLING_DISPUTE, {K.BILL, K.CALL_RECORDS}, ()),
        (Category.NETWORK_FAULT, set(), (K.TEST_RESULTS,)),
        (Category.NETWORK_FAULT, {K.CALL_RECORDING}, (K.TEST_RESULTS,)),
        (Category.NETWORK_FAULT, {K.TEST_RESULTS}, ()),
        (Category.STAFF_ATTITUDE, set(), ()),
        (None, set(), ()),
    ],
)
def test_the_default_checklist_names_what_each_category_still_misses(category, present, expected):
    assert missing(category, present, DEFAULT_CHECKLIST) == expected


def test_a_configured_checklist_replaces_the_default_and_reads_codes_or_labels():
    rules = parse_checklist({"staff_attitude": ["通话录音"], "资费争议": "bill"})
    assert missing(Category.STAFF_ATTITUDE, set(), rules) == (K.CALL_RECORDING,)
    assert missing(Category.BILLING_DISPUTE, set(), rules) == (K.BILL,)
    assert missing(Category.NETWORK_FAULT, set(), rules) == ()


@pytest.mark.parametrize(
    ("config", "named"),
    [({"billing": ["bill"]}, "'billing'"), ({"network_fault": ["photo"]}, "'photo'")],
)
def test_a_bad_checklist_names_the_unknown_entry_in_both_languages(config, named):
    with pytest.raises(EvidenceError) as caught:
        parse_checklist(config)
    assert named in caught.value.en and "证据清单" in caught.value.zh


def test_missing_evidence_reads_in_the_workbooks_language():
    assert missing_text((K.BILL, K.CALL_RECORDS), "zh") == "账单、通话记录"
    assert missing_text((K.BILL, K.CALL_RECORDS), "en") == "Bill, Call records"
    assert missing_text((), "en") == ""


@pytest.mark.parametrize(
    ("name", "head", "found"),
    [
        ("bill.pdf", b"%PDF-1.7\n...", PDF),
        ("screen.PNG", b"\x89PNG\r\n\x1a\n....", PNG),
        ("shot.jpeg", b"\xff\xd8\xff\xe0..JFIF", JPEG),
        ("a.gif", b"GIF89a....", GIF),
        ("a.webp", b"RIFF\x00\x00\x00\x00WEBPVP8 ", WEBP),
        ("call.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ", WAV),
        ("call.amr", b"#!AMR\n....", AMR),
        ("call.m4a", b"\x00\x00\x00\x20ftypM4A \x00\x00", M4A),
        ("call.mp3", b"ID3\x04\x00....", MP3),
        ("call.mp3", b"\xff\xfb\x90\x64....", MP3),
        ("call.ogg", b"OggS\x00\x02....", OGG),
        ("sms.txt", "2026-11-24 10:00 短信：您的账单已出\n".encode(), TEXT),
        ("sms.csv", b"\xef\xbb\xbftime,text\r\n1,hello\r\n", TEXT),
        ("cut.txt", "话费" * 100 + "\n短", TEXT),  # the sample may end inside a character
        ("sms.log", "客户\u3000张先生\xa0回复：同意\t1\n", TEXT),  # wide and no-break spaces are text
    ],
)
def test_the_first_bytes_decide_the_type(name, head, found):
    data = head.encode()[:512] if isinstance(head, str) else head
    assert check_file(name, data, len(data), 1000) == found


@pytest.mark.parametrize(
    ("name", "head", "size", "code", "said"),
    [
        ("bill.pdf", b"", 0, "empty_file", "empty"),
        ("bill.pdf", b"%PDF-1.7", 1001, "too_large", "1,001 bytes"),
        ("bill.pdf", b"\x89PNG\r\n\x1a\n....", 12, "mislabelled", "image/png"),
        ("bill", b"%PDF-1.7", 8, "mislabelled", "(none)"),
        ("sms.txt", b"<html><script>alert(1)</script>", 30, "bad_type", "not a type"),
        ("sms.txt", b"  <svg onload=x>", 16, "bad_type", "not a type"),
        ("setup.pdf", b"MZ\x90\x00\x03\x00\x00\x00", 8, "bad_type", "not a type"),
        ("book.xlsx", b"PK\x03\x04\x14\x00", 6, "bad_type", "not a type"),
        ("sms.txt", b"\xff\xfe\x00t\x00e", 6, "bad_type", "not a type"),
        ("sms.txt", b"line\x1b[31m red", 14, "bad_type", "not a type"),
    ],
)
def test_an_upload_is_refused_by_what_it_is_with_a_bilingual_reason(name, head, size, code, said):
    with pytest.raises(EvidenceError) as caught:
        check_file(name, head, size, 1000)
    assert caught.value.code == code
    assert said in caught.value.en and name in caught.value.zh
