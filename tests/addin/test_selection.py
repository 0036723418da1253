"""The add-in colours rows as the template does, and finds what is selected."""

from __future__ import annotations

import pytest

from addin.sheet import selected_rows
from complaints.colours import HEADER_FILL, LEVEL_FILL, LEVEL_TEXT
from server.xlsx import styles


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
