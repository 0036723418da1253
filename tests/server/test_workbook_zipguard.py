"""Hostile files are refused with a clear message before any spreadsheet library parses them."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path

import defusedxml
import openpyxl
import openpyxl.xml
import pytest

from server.xlsx.errors import UnsafeWorkbookError
from server.xlsx.reader import read_workbook
from server.xlsx.writer import write_workbook
from server.xlsx.zipguard import MiB, ZipLimits, check_zip
from tests.server.workbook_factories import (
    NOW,
    edit_cells,
    many_tickets,
    rewrite_part,
    save_filled,
    sheet_part,
)

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (n, (b"&lol%d;" % (n - 1) if n > 1 else b"&lol;") * 10)
        for n in range(1, 10)
    )
    + b"]>\n"
)

pytestmark = pytest.mark.battery


def with_entry(path: Path, name: str, data: bytes, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Add one part to a workbook's zip."""
    with zipfile.ZipFile(path, "a", compression) as archive:
        archive.writestr(name, data)
    return path


def refused(source: object, limits: ZipLimits | None = None) -> str:
    with pytest.raises(UnsafeWorkbookError) as caught:
        check_zip(source, limits)  # type: ignore[arg-type]
    (problem,) = caught.value.problems
    assert problem.zh  # every refusal is explained in Chinese too
    return problem.en


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    return save_filled(tmp_path / "SZ01.xlsx", many_tickets(3))


def test_a_file_that_is_not_a_zip_is_refused_as_not_an_xlsx_workbook() -> None:
    assert "not an .xlsx workbook" in refused(b"Ticket ID,Received at\n")


def test_a_genuine_branch_workbook_passes_and_its_parts_are_listed(workbook: Path) -> None:
    inventory = check_zip(workbook)
    assert "xl/workbook.xml" in inventory.sizes
    assert inventory.formula_parts == set()


def test_formula_cells_are_noticed_in_the_worksheet_that_holds_them(workbook: Path) -> None:
    edit_cells(workbook, "投诉单", {"K2": "=LEN(A2)"})
    assert check_zip(workbook).formula_parts == {sheet_part(workbook, "投诉单")}


def test_too_many_parts_are_refused(workbook: Path) -> None:
    assert "at most 5 are accepted" in refused(workbook, ZipLimits(max_entries=5))


def test_a_part_larger_than_the_limit_is_refused_naming_it(workbook: Path) -> None:
    with_entry(workbook, "xl/media/huge.bin", os.urandom(2 * MiB))
    message = refused(workbook, ZipLimits(max_entry_size=1 * MiB))
    assert "xl/media/huge.bin" in message and "2.0 MiB" in message


def test_a_workbook_larger_in_total_than_the_limit_is_refused(workbook: Path) -> None:
    assert "inflates to more than" in refused(workbook, ZipLimits(max_total_size=20_000))


def test_a_part_compressed_more_than_a_hundred_times_is_refused_as_a_zip_bomb(workbook: Path) -> None:
    with_entry(workbook, "xl/bomb.xml", b"<a>" + b"\0" * (20 * MiB) + b"</a>")
    assert "compressed more than 100 times" in refused(workbook)


def test_a_small_part_compressed_more_than_a_hundred_times_is_normal(workbook: Path) -> None:
    with_entry(workbook, "xl/custom.xml", b"<a>" + b" " * 60_000 + b"</a>")
    assert read_workbook(workbook, now=NOW).tickets == many_tickets(3)


def _patch_sizes(data: bytes, name: bytes, size: int) -> bytes:
    """Make the local header and the central directory claim ``size`` bytes for entry ``name``."""
    patched = bytearray(data)
    local = patched.find(b"PK\x03\x04")
    while local != -1:
        (length,) = struct.unpack_from("<H", patched, local + 26)
        if patched[local + 30 : local + 30 + length] == name:
            struct.pack_into("<I", patched, local + 22, size)
        local = patched.find(b"PK\x03\x04", local + 4)
    central = patched.find(b"PK\x01\x02")
    while central != -1:
        (length,) = struct.unpack_from("<H", patched, central + 28)
        if patched[central + 46 : central + 46 + length] == name:
            struct.pack_into("<I", patched, central + 24, size)
        central = patched.find(b"PK\x01\x02", central + 4)
    return bytes(patched)


def test_a_part_whose_header_lies_about_its_size_cannot_slip_past_the_limit(workbook: Path) -> None:
    with_entry(workbook, "xl/liar.xml", os.urandom(3 * MiB))
    lying = _patch_sizes(workbook.read_bytes(), b"xl/liar.xml", 100)
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        assert archive.getinfo("xl/liar.xml").file_size == 100  # the header says 100 bytes

    message = refused(lying, ZipLimits(max_entry_size=1 * MiB))

    assert "xl/liar.xml" in message


def test_an_encrypted_part_is_refused(workbook: Path) -> None:
    data = bytearray(workbook.read_bytes())
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 0x1
    assert "encrypted" in refused(bytes(data))


def test_duplicate_part_names_are_refused(workbook: Path) -> None:
    with pytest.warns(UserWarning, match="Duplicate name"):
        with_entry(workbook, "xl/workbook.xml", b"<workbook/>")
    assert "duplicate" in refused(workbook)


def test_a_billion_laughs_workbook_is_refused_with_a_clear_error(workbook: Path) -> None:
    part = sheet_part(workbook, "投诉单")
    rewrite_part(workbook, part, lambda xml: BILLION_LAUGHS + xml.replace(b"SZ01-", b"&lol9;-", 1))

    with pytest.raises(UnsafeWorkbookError) as caught:
        read_workbook(workbook, now=NOW)

    assert "declares a DTD or XML entities" in caught.value.problems[0].en
    assert part in caught.value.problems[0].en


def test_openpyxl_itself_refuses_xml_entities_because_defusedxml_is_installed(workbook: Path) -> None:
    part = sheet_part(workbook, "投诉单")
    rewrite_part(workbook, part, lambda xml: BILLION_LAUGHS + xml.replace(b"SZ01-", b"&lol9;-", 1))

    assert openpyxl.xml.DEFUSEDXML
    with pytest.raises(ValueError, match="Unable to read workbook") as caught:
        openpyxl.load_workbook(io.BytesIO(workbook.read_bytes()))
    assert isinstance(caught.value.__cause__, defusedxml.EntitiesForbidden)


def test_the_writer_guards_its_input_too(workbook: Path, tmp_path: Path) -> None:
    with_entry(workbook, "xl/bomb.xml", b"\0" * (20 * MiB))
    with pytest.raises(UnsafeWorkbookError):
        write_workbook(workbook, tmp_path / "out.xlsx", tickets=many_tickets(1))
    assert not (tmp_path / "out.xlsx").exists()
