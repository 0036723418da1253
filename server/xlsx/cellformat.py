"""How our cells are stored in an .xlsx file: number formats, XML-safe text, the quote prefix.

What a cell means is `complaints.cells`' business (the one codec); this module
only adds what the file format needs on top of it:

* Text is stored as text. C0 control characters other than tab and line feed
  (which XML cannot hold) and carriage return (which XML parsers turn into a
  line feed) are written with the OOXML escape ``_xHHHH_``, and a literal
  ``_xHHHH_`` in the text gets its underscore escaped as ``_x005F_``. Excel,
  LibreOffice and calamine decode these, so the text round-trips exactly and
  a write never fails on a control character. Lone surrogates and U+FFFE /
  U+FFFF are not characters at all (no spreadsheet can hold them, and
  calamine does not decode their escapes): they are written as U+FFFD.
* A text that a spreadsheet would take for a formula when edited gets the
  quote prefix (it is stored as a string either way).
* Each column type has its number format.
"""

from __future__ import annotations

import re
from datetime import tzinfo

from complaints.cells import Writer, writer
from complaints.schema import ColType, Column

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"
INT_FORMAT = "0"

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
"""Leading characters that make a spreadsheet treat typed text as a formula (CSV-injection set)."""

_ESCAPE_SEQUENCE = re.compile(r"_x[0-9A-Fa-f]{4}_")
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0d\x0e-\x1f]")
_NOT_CHARACTERS = re.compile("[\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


def escape_text(text: str) -> str:
    """Text safe for an XML cell, decoded back to ``text`` by spreadsheet readers (see module doc).

    Text of white space only is escaped whole: openpyxl marks it ``xml:space="preserve"`` only
    when something else is in the cell, and without the mark Excel and calamine read it empty.
    """
    if text.isspace():
        return "".join(f"_x{ord(ch):04X}_" for ch in text)
    if "_x" in text:
        text = _ESCAPE_SEQUENCE.sub(lambda m: "_x005F" + m.group(0), text)
    text = _NOT_CHARACTERS.sub(REPLACEMENT, text)
    return _UNSAFE.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def unescape_text(text: str) -> str:
    """Decode ``_xHHHH_`` escapes (what Excel and calamine do on read; openpyxl does not)."""
    if "_x" not in text:
        return text
    return _ESCAPE_SEQUENCE.sub(lambda m: chr(int(m.group(0)[2:6], 16)), text)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` typed into a cell as a formula."""
    return text.startswith(FORMULA_TRIGGERS)


def cell_writer(column: Column, lang: str, zone: tzinfo) -> Writer:
    """`complaints.cells.writer`, with text escaped for the file."""
    write = writer(column, lang, zone)
    if column.type is not ColType.TEXT:
        return write

    def write_text(value: object) -> object:
        cell = write(value)
        return None if cell is None else escape_text(cell)  # type: ignore[arg-type]

    return write_text


def number_format(column: Column) -> str:
    """The cell number format for a column of this type."""
    return {
        ColType.DATETIME: DATETIME_FORMAT,
        ColType.DATE: DATE_FORMAT,
        ColType.INT: INT_FORMAT,
    }.get(column.type, TEXT_FORMAT)
