"""The add-in reads and writes cells as the server's workbook code does, and finds what is selected."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from addin.sheet import selected_rows
from complaints import cells
from complaints.colours import HEADER_FILL, LEVEL_FILL, LEVEL_TEXT
from complaints.enums import Flag, Level
from complaints.schema import TASKS, TICKETS
from complaints.sla import PENDING
from server.xlsx import styles, values
from tests.factories import SHANGHAI, local

EPOCH = datetime(1899, 12, 30)
COLUMNS = {c.key: c for c in (*TICKETS.columns, *TASKS.columns)}

READS = [
    ("received_at", datetime(2026, 3, 2, 9, 10)),
    ("received_at", "2026-03-02 09:10"),
    ("received_at", "2026/03/02"),
    ("received_at", 46083.38194444444),
    ("received_at", "2026-03-02T01:10:00+00:00"),
    ("ack_due", "待发布节假日"),
    ("ack_due", "Pending calendar"),
    ("due", datetime(2026, 3, 25)),
    ("due", "2026-03-25"),
    ("contact", 13800138000.0),
    ("contact", "0013800138000"),
    ("customer_name", True),
    ("objection_count", 2.0),
    ("objection_count", "3"),
    ("media_exposure", "是"),
    ("media_exposure", "n"),
    ("media_exposure", 1),
    ("channel", "客服热线"),
    ("channel", " hotline "),
    ("level", "RED"),
    ("flags", "ACK_OVERDUE, 方案超时"),
    ("flags", "ACK_OVERDUE；PLAN_DUE_SOON"),
]

BAD = [
    ("received_at", "明天"),
    ("due", "下周"),
    ("objection_count", 1.5),
    ("media_exposure", "也许"),
    ("channel", "电报"),
    ("flags", "LATE"),
]


@pytest.mark.parametrize(("key", "raw"), READS, ids=lambda v: repr(v))
def test_a_cell_reads_the_same_in_the_add_in_and_on_the_server(key, raw):
    column = COLUMNS[key]
    assert cells.read_cell(column, raw, SHANGHAI) == values.cell_reader(column, SHANGHAI, EPOCH)(raw)


@pytest.mark.parametrize(("key", "raw"), BAD, ids=lambda v: repr(v))
def test_a_cell_that_does_not_fit_is_refused_with_the_same_words(key, raw):
    column = COLUMNS[key]
    with pytest.raises(cells.CellValueError) as ours:
        cells.read_cell(column, raw, SHANGHAI)
    with pytest.raises(values.CellValueError) as theirs:
        values.cell_reader(column, SHANGHAI, EPOCH)(raw)
    assert (ours.value.en, ours.value.zh) == (theirs.value.en, theirs.value.zh)


WRITES = [
    ("received_at", local(2026, 3, 2, 9, 10, 30)),
    ("ack_due", PENDING),
    ("due", date(2026, 3, 25)),
    ("channel", None),
    ("level", Level.YELLOW),
    ("media_exposure", True),
    ("flags", frozenset({Flag.PLAN_OVERDUE, Flag.ACK_OVERDUE})),
    ("flags", frozenset()),
    ("objection_count", 0),
    ("place", "阳光花园小区3栋"),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("key", "value"), WRITES, ids=lambda v: repr(v))
def test_a_value_is_written_as_the_server_writes_it(key, value, lang):
    column = COLUMNS[key]
    assert cells.write_cell(column, value, lang, SHANGHAI) == values.cell_writer(column, lang, SHANGHAI)(
        value
    )


def test_the_macros_colour_rows_as_the_template_does():
    assert (LEVEL_FILL, LEVEL_TEXT, HEADER_FILL) == (styles.LEVEL_FILL, styles.LEVEL_TEXT, styles.HEADER_FILL)


@pytest.mark.parametrize(
    ("address", "rows"),
    [
        ("A2", [(2, 2)]),
        ("$A$2:$C$4", [(2, 4)]),
        ("C4:A2", [(2, 4)]),
        ("A2,C5:D7,9:11", [(2, 2), (5, 7), (9, 11)]),
        ("B:B", [(1, None)]),
        ("'投诉单'!A3", [(3, 3)]),
        ("", []),
    ],
)
def test_the_selection_address_gives_the_selected_rows(address, rows):
    assert selected_rows(address) == rows
