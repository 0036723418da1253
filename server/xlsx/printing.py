"""Page layout for printing the sheets we write: A4 landscape, one page wide, the header row on every page.

Excel and LibreOffice both honour these settings: ``fitToWidth=1`` with
``fitToHeight=0`` scales a wide table so no column is cut and lets the rows
run on to as many pages as they need. The page header names the branch (or
branches), the sheet and the period; the footer numbers the pages (&P of &N).

Two ways in: `set_up` for openpyxl worksheets, `sheet_properties_xml` and
`page_xml` for the sheets `server.xlsx.bulk` streams as raw XML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.properties import PageSetupProperties

A4 = 9
MARGINS = {"left": 0.4, "right": 0.4, "top": 0.7, "bottom": 0.6, "header": 0.3, "footer": 0.3}
"""Inches: narrow sides for wide tables, room above and below for the header and footer lines."""
MAX_HEADING = 80
"""Characters of branch names in a page header (Excel allows 255 for the whole header)."""
PAGE = {"zh": "第 &P 页，共 &N 页", "en": "Page &P of &N"}
PRINTED = {"zh": "打印日期 &D", "en": "Printed &D"}
ALL_BRANCHES = {"zh": "全部分公司", "en": "All branches"}


@dataclass(frozen=True)
class Heading:
    """What a page header says: on the left who and which sheet, on the right the period (or print date)."""

    left: str
    right: str
    lang: str

    def header(self) -> str:
        return f"&L{self.left}&R{self.right}"

    def footer(self) -> str:
        return f"&C{PAGE[self.lang]}"


def literal(text: str) -> str:
    """``text`` as it should print: a lone "&" would start a header code."""
    return text.replace("&", "&&")


def branch_heading(branch: str, lang: str) -> Heading:
    """A branch workbook's pages: the branch and the sheet; the print date (the ledger has no period)."""
    return Heading(f"{literal(branch)} · &A", PRINTED[lang], lang)


def consolidated_heading(branches: Sequence[str] | None, period: str, lang: str) -> Heading:
    """A consolidated workbook's pages: its branches (all, or the chosen ones) and the sheet; the period."""
    names = ", ".join(branches) if branches else ALL_BRANCHES[lang]
    if len(names) > MAX_HEADING:
        names = names[: MAX_HEADING - 1] + "…"
    return Heading(f"{literal(names)} · &A", literal(period), lang)


def set_up(
    ws: Any,
    heading: Heading,
    *,
    title_rows: str | None = "1:1",
    area: str | None = None,
    pages_high: int = 0,
    landscape: bool = True,
) -> None:
    """A4, one page wide and ``pages_high`` high (0: as many as it takes), ``title_rows`` on every page."""
    ws.page_setup.paperSize = A4
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = pages_high
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.page_margins = PageMargins(**MARGINS)
    ws.oddHeader.left.text, ws.oddHeader.right.text = heading.left, heading.right
    ws.oddFooter.center.text = PAGE[heading.lang]
    if title_rows:
        ws.print_title_rows = title_rows
    if area:
        ws.print_area = area


def sheet_properties_xml() -> str:
    """``<sheetPr>`` of a streamed sheet: its pages are scaled to fit."""
    return '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'


def page_xml(heading: Heading) -> str:
    """Margins, page setup and header/footer of a streamed sheet, in the order the schema wants them."""
    margins = " ".join(f'{k}="{v}"' for k, v in MARGINS.items())
    return (
        f"<pageMargins {margins}/>"
        f'<pageSetup paperSize="{A4}" orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
        f"<headerFooter><oddHeader>{xml_escape(heading.header())}</oddHeader>"
        f"<oddFooter>{xml_escape(heading.footer())}</oddFooter></headerFooter>"
    )
