"""What the macros last wrote on each Tickets row, remembered in the hidden _sync sheet.

A remote client cannot read a cell's colour (XLWINGS.md), and repainting every
row on every press sends thousands of actions. So each row's entry remembers,
in four characters, the level colour painted on it, a tag of its sync key (a
sorted or inserted row is then not taken for another) and a digest of the grey
computed cells as written. With it a macro

* paints only the rows whose colour must change;
* tells an overwritten grey cell from one the macros wrote: the row's computed
  cells no longer match their digest, so the rules' value put back is named.

Entries live in `CHUNK`-row pieces (an Excel cell holds 32,767 characters) under
the keys ``painted.0``, ``painted.1``, … next to ``painted.cursor``, the sync
cursor they were written with: a workbook rewritten by the server (which moves
the cursor) is treated as unknown, never as edited by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, MutableMapping
from dataclasses import dataclass, field
from datetime import date, datetime

from complaints.cells import round_second
from complaints.colours import LEVEL_FILL

PREFIX = "painted."
CURSOR = "painted.cursor"
CHUNK = 7_500
"""Rows per _sync value: 4 characters each, under Excel's 32,767 per cell."""
WIDTH = 4
UNKNOWN = "-" * WIDTH
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_+"
COLOUR_CODE: dict[str, str] = {rgb: level.value[0] for level, rgb in LEVEL_FILL.items()}
"""Level fill (RRGGBB) -> its letter in an entry: b, y, r."""


def _text(value: object) -> str:
    """A cell value as read or as written, in one form (Excel gives numbers back as floats)."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return round_second(value).isoformat()
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def digest(values: Iterable[object]) -> str:
    """Two characters summing up a row's computed cells."""
    raw = "\x1f".join(_text(v) for v in values).encode()
    n = int.from_bytes(hashlib.blake2s(raw, digest_size=2).digest(), "big") % 4096
    return _ALPHABET[n // 64] + _ALPHABET[n % 64]


def key_tag(sync_key: object) -> str:
    """One character of a row's sync key: a moved row is not taken for the one that stood there."""
    text = _text(sync_key)
    return _ALPHABET[hashlib.blake2s(text.encode(), digest_size=1).digest()[0] % 64] if text else "-"


@dataclass
class Painted:
    """Entries by data row (0 = the first row under the header)."""

    entries: list[str] = field(default_factory=list)
    known: bool = False
    """Whether the workbook had a memory (a first press, or one after the server rewrote it, has none)."""

    @classmethod
    def load(cls, state: MutableMapping[str, str]) -> Painted:
        cursor = state.get("cursor", "")
        if CURSOR not in state or state[CURSOR] != cursor:
            return cls()
        chunks, n = [], 0
        while f"{PREFIX}{n}" in state:
            chunks.append(state[f"{PREFIX}{n}"])
            n += 1
        text = "".join(chunks)
        return cls([text[i : i + WIDTH] for i in range(0, len(text) - WIDTH + 1, WIDTH)], True)

    def entry(self, i: int) -> str:
        return self.entries[i] if 0 <= i < len(self.entries) else UNKNOWN

    def colour(self, i: int, sync_key: object) -> str | None:
        """The level fill painted on row ``i`` when it held ``sync_key``; None if not known."""
        entry = self.entry(i)
        if entry[1] != key_tag(sync_key):
            return None
        return next((rgb for rgb, code in COLOUR_CODE.items() if code == entry[0]), None)

    def untouched(self, i: int, sync_key: object, computed: Iterable[object]) -> bool | None:
        """Whether row ``i``'s computed cells are as the macros wrote them; None if not known."""
        entry = self.entry(i)
        if entry == UNKNOWN or entry[1] != key_tag(sync_key):
            return None
        return entry[2:] == digest(computed)

    def set(self, i: int, rgb: str | None, sync_key: object, computed: Iterable[object]) -> None:
        """Remember row ``i``: ``rgb`` painted (None: the colour it had), its key, its computed cells."""
        while len(self.entries) <= i:
            self.entries.append(UNKNOWN)
        old = self.entries[i]
        tag = key_tag(sync_key)
        code = COLOUR_CODE.get(rgb or "", old[0] if old[1] == tag else "-")
        self.entries[i] = code + tag + digest(computed)

    def store(self, state: MutableMapping[str, str]) -> None:
        """Write the entries into the _sync key/values (dropping chunks no longer needed)."""
        for key in [k for k in state if k.startswith(PREFIX)]:
            del state[key]
        text = "".join(self.entries)
        for n, start in enumerate(range(0, len(text), CHUNK * WIDTH)):
            state[f"{PREFIX}{n}"] = text[start : start + CHUNK * WIDTH]
        state[CURSOR] = state.get("cursor", "")
