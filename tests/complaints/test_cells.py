"""The one cell codec: what a coordinator types is understood, what the model holds is shown as typed."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from complaints.cells import (
    EXCEL_1904,
    CellValueError,
    Formula,
    format_flags,
    parse_flags,
    read_cell,
    write_cell,
)
from complaints.enums import Channel, Flag, Level
from complaints.schema import TASKS, TICKETS
from complaints.sla import PENDING
from tests.factories import SHANGHAI, local

COLUMNS = {c.key: c for c in (*TICKETS.columns, *TASKS.columns)}

READS = [
    ("received_at", datetime(2026, 3, 2, 9, 10), local(2026, 3, 2, 9, 10)),
    ("received_at", "2026-03-02 09:10", local(2026, 3, 2, 9, 10)),
    ("received_at", "2026/03/02", local(2026, 3, 2)),
    ("received_at", 46083.38194444444, local(2026, 3, 2, 9, 10)),
    ("received_at", "2026-03-02T01:10:00+00:00", local(2026, 3, 2, 9, 10)),
    ("received_at", datetime(2026, 3, 2, 9, 10, 29, 600_000), local(2026, 3, 2, 9, 10, 30)),
    ("ack_due", "待发布节假日", PENDING),
    ("ack_due", "Pending calendar", PENDING),
    ("due", datetime(2026, 3, 25), date(2026, 3, 25)),
    ("due", "2026-03-25", date(2026, 3, 25)),
    ("due", 46106, date(2026, 3, 25)),
    ("contact", 13800138000.0, "13800138000"),
    ("contact", "0013800138000", "0013800138000"),
    ("customer_name", True, "TRUE"),
    ("problem_time", datetime(2026, 3, 1, 20, 0), "2026-03-01 20:00"),
    ("description", Formula('=A2&"x"'), '=A2&"x"'),
    ("objection_count", 2.0, 2),
    ("objection_count", "3", 3),
    ("media_exposure", "是", True),
    ("media_exposure", "n", False),
    ("media_exposure", "√", True),
    ("media_exposure", "×", False),
    ("media_exposure", 1, True),
    ("channel", "客服热线", Channel.HOTLINE),
    ("channel", " hotline ", Channel.HOTLINE),
    ("level", "RED", Level.RED),
    ("level", "黄", Level.YELLOW),
    ("flags", "ACK_OVERDUE, 方案超时", frozenset({Flag.ACK_OVERDUE, Flag.PLAN_OVERDUE})),
    ("flags", "ACK_OVERDUE；PLAN_DUE_SOON", frozenset({Flag.ACK_OVERDUE, Flag.PLAN_DUE_SOON})),
    (
        "flags",
        "信息不全（缺：联系电话、问题地点）、描述模糊",
        frozenset({Flag.INFO_INCOMPLETE, Flag.VAGUE_DESCRIPTION}),
    ),
    (
        "flags",
        "Appeal risk (MIIT), Information incomplete (missing: Contact, Place)",
        frozenset({Flag.APPEAL_RISK, Flag.INFO_INCOMPLETE}),
    ),
]


def _id(value: object) -> str:
    """A test id that is the same in every process (a set's order follows the hash seed)."""
    if isinstance(value, frozenset | set):
        return repr(sorted(value, key=str))
    return repr(value)


@pytest.mark.parametrize(("key", "raw", "meaning"), READS, ids=_id)
def test_a_cell_is_understood_however_it_was_typed(key, raw, meaning):
    value = read_cell(COLUMNS[key], raw, SHANGHAI)
    assert value == meaning and type(value) is type(meaning)


BAD = [
    ("received_at", "明天", "'明天' is not a date and time", "'明天' 不是日期时间"),
    ("received_at", 0.5, "0.5 is not a date and time", "0.5 不是日期时间"),
    ("due", "下周", "'下周' is not a date", "'下周' 不是日期"),
    ("objection_count", 1.5, "1.5 is not a whole number", "1.5 不是整数"),
    ("media_exposure", "也许", "'也许' is not yes or no", "'也许' 不是“是/否”"),
    (
        "channel",
        "电报",
        "'电报' is not one of: Hotline, Business hall",
        "'电报' 不是以下之一：客服热线、营业厅",
    ),
    ("flags", "LATE", "unknown flag in 'LATE'", "'LATE' 中有未知的预警标记"),
    ("received_at", Formula("=NOW()"), "a formula (=NOW()) is not accepted here", "此处不接受公式（=NOW()）"),
    ("level", Formula("=B2"), "a formula (=B2) is not accepted here", "此处不接受公式（=B2）"),
]


@pytest.mark.parametrize(("key", "raw", "en", "zh"), BAD, ids=_id)
def test_a_cell_that_does_not_fit_is_refused_in_both_languages(key, raw, en, zh):
    with pytest.raises(CellValueError) as caught:
        read_cell(COLUMNS[key], raw, SHANGHAI)
    assert caught.value.en.startswith(en) and caught.value.zh.startswith(zh)


def test_a_serial_number_counts_from_the_workbooks_date_system():
    column = COLUMNS["received_at"]
    assert read_cell(column, 1, SHANGHAI) == local(1900, 1, 1)
    assert read_cell(column, 61, SHANGHAI) == local(1900, 3, 1)
    assert read_cell(column, 44622.375, SHANGHAI, EXCEL_1904) == local(2026, 3, 3, 9, 0)


WRITES = [
    ("received_at", local(2026, 3, 2, 9, 10, 30), datetime(2026, 3, 2, 9, 10, 30), None),
    ("received_at", datetime(2026, 3, 2, 1, 10, tzinfo=UTC), datetime(2026, 3, 2, 9, 10), None),
    ("ack_due", PENDING, "待发布节假日", "Pending calendar"),
    ("due", date(2026, 3, 25), date(2026, 3, 25), None),
    ("channel", None, None, None),
    ("level", Level.YELLOW, "黄", "Yellow"),
    ("media_exposure", True, "是", "Y"),
    ("media_exposure", False, "否", "N"),
    (
        "flags",
        frozenset({Flag.PLAN_OVERDUE, Flag.ACK_OVERDUE}),
        "响应超时、方案超时",
        "Acknowledgement overdue, Plan overdue",
    ),
    ("flags", frozenset(), None, None),
    ("objection_count", 0, 0, None),
    ("place", "", None, None),
    ("description", "=1+1 客户原话\x07", "=1+1 客户原话\x07", None),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("key", "value", "zh", "en"), WRITES, ids=_id)
def test_a_value_is_written_as_the_coordinator_would_type_it(key, value, zh, en, lang):
    expected = en if lang == "en" and en is not None else zh
    assert write_cell(COLUMNS[key], value, lang, SHANGHAI) == expected


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("received_at", local(2026, 3, 2, 9, 10, 30)),
        ("ack_due", PENDING),
        ("due", date(2026, 3, 25)),
        ("channel", Channel.WEIBO),
        ("media_exposure", True),
        ("flags", frozenset({Flag.APPEAL_RISK, Flag.TASK_OVERDUE})),
        ("objection_count", 4),
        ("description", "  前后有空格  "),
    ],
    ids=_id,
)
def test_what_is_written_reads_back_equal(key, value, lang):
    column = COLUMNS[key]
    assert read_cell(column, write_cell(column, value, lang, SHANGHAI), SHANGHAI) == value


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("zh", "响应超时、信息不全（缺：联系电话、问题地点）"),
        ("en", "Acknowledgement overdue, Information incomplete (missing: Contact, Place)"),
    ],
)
def test_information_incomplete_names_the_missing_fields_and_reads_back(lang, expected):
    flags = frozenset({Flag.INFO_INCOMPLETE, Flag.ACK_OVERDUE})
    text = format_flags(flags, lang, ["contact", "place"])
    assert text == expected
    assert parse_flags(text) == flags
    assert format_flags(flags) == "ACK_OVERDUE, INFO_INCOMPLETE"  # the codes, for the machines
