"""Refuse zip bombs and XML entity tricks before any spreadsheet library opens the file.

An .xlsx is a zip of XML parts. The guard reads the central directory (entry
count, declared sizes, encryption, duplicate names), then inflates every entry
once, counting the bytes actually produced, so a header that lies about its
size cannot slip past the limits. The compression ratio is checked per entry
above a small size floor, as Apache POI does: tiny parts (styles, rels) are
often compressed 100x and are harmless.

The same pass refuses any XML part that declares a DTD (``<!DOCTYPE`` /
``<!ENTITY``): no OOXML part needs one, and this stops entity-expansion attacks
for every reader, not only those that use defusedxml. It also notes which
worksheet parts contain formulas, so that the fast reader knows where cached
values cannot be trusted.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from server.xlsx.errors import Problem, UnsafeWorkbookError

KiB = 1024
MiB = 1024 * KiB

Source = str | os.PathLike[str] | bytes | BinaryIO


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """Limits for one workbook; the defaults fit a branch workbook of a few hundred thousand rows."""

    max_entries: int = 1_000
    max_entry_size: int = 512 * MiB
    max_total_size: int = 1_024 * MiB
    max_ratio: float = 100.0
    ratio_floor: int = 100 * KiB
    """Entries that inflate to less than this are not ratio-checked (POI's grace size)."""


@dataclass(slots=True)
class ZipInventory:
    """What the guard learnt while checking: part names and sizes, and parts holding formulas."""

    sizes: dict[str, int] = field(default_factory=dict)
    formula_parts: set[str] = field(default_factory=set)

    @property
    def total_size(self) -> int:
        return sum(self.sizes.values())


CHUNK = 256 * KiB
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
# a formula element <f>, <f t="shared" .../>, or prefixed <x:f ...>; not <fill>, <font>, <formula1>
_FORMULA = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s>/]")
_OVERLAP = 16


def _refuse(en: str, zh: str) -> UnsafeWorkbookError:
    return UnsafeWorkbookError([Problem(en, zh)])


def _size(n: int) -> str:
    return f"{n / MiB:.1f} MiB" if n >= MiB else f"{n} bytes"


def open_source(source: Source) -> tuple[BinaryIO | str | os.PathLike[str], int]:
    """A re-readable handle on ``source`` and its size in bytes."""
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source), len(source)
    if isinstance(source, str | os.PathLike):
        return source, os.path.getsize(source)
    position = source.tell()
    size = source.seek(0, io.SEEK_END)
    source.seek(position)
    return source, size - position


def check_zip(source: Source, limits: ZipLimits | None = None) -> ZipInventory:
    """Check ``source`` against ``limits`` and return what it holds; raise UnsafeWorkbookError if unsafe."""
    limits = limits or ZipLimits()
    handle, file_size = open_source(source)
    start = handle.tell() if not isinstance(handle, str | os.PathLike) else 0
    try:
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, OSError) as exc:
            raise _refuse(
                f"This is not an .xlsx workbook (not a zip file: {exc}). Save it from Excel as .xlsx.",
                f"这不是 .xlsx 工作簿（不是 zip 文件：{exc}）。请在 Excel 中另存为 .xlsx。",
            ) from exc
        with archive:
            return _check_archive(archive, limits, file_size)
    finally:
        if not isinstance(handle, str | os.PathLike):
            handle.seek(start)


def _check_archive(archive: zipfile.ZipFile, limits: ZipLimits, file_size: int) -> ZipInventory:
    entries = archive.infolist()
    if len(entries) > limits.max_entries:
        raise _refuse(
            f"The workbook has {len(entries)} parts; at most {limits.max_entries} are accepted.",
            f"工作簿包含 {len(entries)} 个部件，最多允许 {limits.max_entries} 个。",
        )
    names = [e.filename for e in entries]
    if len(set(names)) != len(names):
        raise _refuse(
            "The workbook's zip has duplicate entry names and is refused.",
            "工作簿的 zip 中有重名的条目，已拒绝。",
        )
    declared = 0
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise _refuse(
                f"Part {entry.filename} is encrypted; remove the password and save again.",
                f"部件 {entry.filename} 已加密，请取消密码后重新保存。",
            )
        _check_entry_size(entry.filename, entry.file_size, limits)
        declared += entry.file_size
        if declared > limits.max_total_size:
            raise _total_error(declared, limits)
    inventory = ZipInventory()
    total = 0
    for entry in entries:
        if entry.is_dir():
            continue
        produced = _inflate(archive, entry, limits, total, file_size, inventory)
        inventory.sizes[entry.filename] = produced
        total += produced
    return inventory


def _check_entry_size(name: str, size: int, limits: ZipLimits) -> None:
    if size > limits.max_entry_size:
        raise _refuse(
            f"Part {name} inflates to {_size(size)}; at most {_size(limits.max_entry_size)} is accepted.",
            f"部件 {name} 解压后为 {_size(size)}，最多允许 {_size(limits.max_entry_size)}。",
        )


def _total_error(total: int, limits: ZipLimits) -> UnsafeWorkbookError:
    return _refuse(
        f"The workbook inflates to more than {_size(limits.max_total_size)} ({_size(total)} so far).",
        f"工作簿解压后超过 {_size(limits.max_total_size)}（已达 {_size(total)}）。",
    )


def _inflate(
    archive: zipfile.ZipFile,
    entry: zipfile.ZipInfo,
    limits: ZipLimits,
    total_before: int,
    file_size: int,
    inventory: ZipInventory,
) -> int:
    """Inflate one entry, counting real bytes; scan XML parts for DTDs and worksheets for formulas."""
    name = entry.filename
    is_xml = name.endswith((".xml", ".rels", ".vml"))
    is_sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
    compressed = max(1, min(entry.compress_size, file_size))
    produced = 0
    tail = b""
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(CHUNK):
                produced += len(chunk)
                _check_entry_size(name, produced, limits)
                if total_before + produced > limits.max_total_size:
                    raise _total_error(total_before + produced, limits)
                if produced > limits.ratio_floor and produced > limits.max_ratio * compressed:
                    raise _refuse(
                        f"Part {name} is compressed more than {limits.max_ratio:g} times "
                        "(a zip bomb?) and is refused.",
                        f"部件 {name} 的压缩比超过 {limits.max_ratio:g} 倍（疑似 zip 炸弹），已拒绝。",
                    )
                if is_xml:
                    window = tail + chunk
                    if _DTD.search(window):
                        raise _refuse(
                            f"Part {name} declares a DTD or XML entities; workbooks with them are refused.",
                            f"部件 {name} 声明了 DTD 或 XML 实体，已拒绝。",
                        )
                    if is_sheet and name not in inventory.formula_parts and _FORMULA.search(window):
                        inventory.formula_parts.add(name)
                    tail = window[-_OVERLAP:]
    except zipfile.BadZipFile as exc:
        raise _refuse(
            f"Part {name} is damaged ({exc}); open and save the workbook again in Excel.",
            f"部件 {name} 已损坏（{exc}），请在 Excel 中打开并重新保存。",
        ) from exc
    except (zlib.error, EOFError, NotImplementedError) as exc:
        raise _refuse(
            f"Part {name} cannot be inflated ({exc}).",
            f"部件 {name} 无法解压（{exc}）。",
        ) from exc
    return produced
