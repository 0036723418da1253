"""The colours of the warning levels, as RGB hex: one source for the template, the macros and the pages.

Row colour follows the level everywhere a ticket is shown (DESIGN §3.4).
"""

from __future__ import annotations

from complaints.enums import Level

LEVEL_FILL: dict[Level, str] = {Level.RED: "FFC7CE", Level.YELLOW: "FFEB9C", Level.BLUE: "DDEBF7"}
"""Row fill of each level."""
LEVEL_TEXT: dict[Level, str] = {Level.RED: "9C0006", Level.YELLOW: "7F6000", Level.BLUE: "1F3864"}
"""Text colour on that fill."""
HEADER_FILL = "1F4E78"
"""Header cells of our sheets (white bold text in the template)."""
