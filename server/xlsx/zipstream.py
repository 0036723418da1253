"""A zip package written front to back to any byte stream, from parts deflated anywhere.

A part is a sequence of `Chunk`s: raw-deflate pieces, each ended with a full
flush so they can be concatenated, with the CRC-32 and length of their input.
Chunks may be compressed in other processes (the ticket sheets are encoded on
both cores); this writer only concatenates them, combines the CRCs and writes
the headers. Every entry has a data descriptor (general-purpose flag bit 3),
so nothing is ever rewritten and the target needs no seek: an HTTP response
receives the first bytes as soon as the first chunk is ready.

No ZIP64: a part must stay below 4 GiB uncompressed (the sheet writer splits
before that) and the package below 4 GiB; beyond that `ZipLimitError`.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import IO

LIMIT = 0xFFFF_FFFF
"""The largest size or offset a zip without ZIP64 extensions can hold."""
COMPRESSLEVEL = 1
"""Deflate level 1: about three times faster than the default for a package ~15 % larger."""
_DEFLATE = 8
_VERSION = 20  # 2.0: deflate, data descriptor
_FLAGS = 0x0808  # bit 3: sizes in a data descriptor; bit 11: UTF-8 names
_DOS_TIME = (0, (2026 - 1980) << 9 | 1 << 5 | 1)  # fixed time stamp: reproducible packages


@dataclass(frozen=True, slots=True)
class Chunk:
    """Raw-deflate bytes ending on a byte boundary (full flush), with the CRC-32 and size of the input."""

    data: bytes
    crc: int
    size: int


def deflate(data: bytes, level: int = COMPRESSLEVEL) -> Chunk:
    """Compress ``data`` into a chunk that can be followed by other chunks."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return Chunk(compressor.compress(data) + compressor.flush(zlib.Z_FULL_FLUSH), zlib.crc32(data), len(data))


class Deflater:
    """Build one chunk from many pieces of input without holding the input."""

    def __init__(self, level: int = COMPRESSLEVEL) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._out: list[bytes] = []
        self._crc = 0
        self._size = 0

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._out.append(self._compressor.compress(data))

    def chunk(self) -> Chunk:
        self._out.append(self._compressor.flush(zlib.Z_FULL_FLUSH))
        return Chunk(b"".join(self._out), self._crc, self._size)


# CRC-32 of a concatenation from the CRCs of its pieces (zlib's crc32_combine, which Python lacks):
# polynomial arithmetic modulo the CRC polynomial, in the reflected bit order CRC-32 uses.
_POLY = 0xEDB88320
_ONE = 1 << 31  # the polynomial 1 in reflected order


def _mult_mod(a: int, b: int) -> int:
    """a(x) · b(x) modulo the CRC polynomial."""
    product = 0
    mask = _ONE
    while a:
        if a & mask:
            product ^= b
            a ^= mask
        mask >>= 1
        b = (b >> 1) ^ _POLY if b & 1 else b >> 1
    return product


_X_POW_2N = [1 << 30]  # x^1, then x^2, x^4, … x^(2^31)
for _ in range(31):
    _X_POW_2N.append(_mult_mod(_X_POW_2N[-1], _X_POW_2N[-1]))


def crc32_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC-32 of A + B from crc32(A), crc32(B) and len(B)."""
    shift = _ONE  # x^(8 · len2): appending len2 zero bytes to A
    bits, k = len2, 3
    while bits:
        if bits & 1:
            shift = _mult_mod(_X_POW_2N[k % 32], shift)
        bits >>= 1
        k += 1
    return _mult_mod(shift, crc1) ^ crc2


class ZipLimitError(ValueError):
    """The package would need ZIP64 extensions (a part or the whole beyond 4 GiB)."""


@dataclass(slots=True)
class _Entry:
    name: bytes
    offset: int
    crc: int = 0
    compressed: int = 0
    size: int = 0


class ZipStream:
    """Write a zip package front to back: `start`, `add` chunks, `finish`, …, `close`."""

    def __init__(self, target: IO[bytes]) -> None:
        self._target = target
        self._offset = 0
        self._entries: list[_Entry] = []
        self._current: _Entry | None = None

    def _write(self, data: bytes) -> None:
        self._target.write(data)
        self._offset += len(data)

    def start(self, name: str) -> None:
        """Begin the part ``name``."""
        if self._current is not None:
            raise RuntimeError(f"start({name!r}) before finishing {self._current.name.decode()!r}")
        encoded = name.encode()
        self._check(self._offset, name)
        self._current = _Entry(encoded, self._offset)
        header = struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, _VERSION, _FLAGS, _DEFLATE, *_DOS_TIME, 0, 0, 0, len(encoded), 0
        )
        self._write(header + encoded)

    def add(self, chunk: Chunk) -> None:
        """Append a chunk to the current part."""
        entry = self._current
        if entry is None:
            raise RuntimeError("add() outside a part")
        entry.crc = crc32_combine(entry.crc, chunk.crc, chunk.size)
        entry.size += chunk.size
        entry.compressed += len(chunk.data)
        self._check(entry.size, entry.name.decode())
        self._write(chunk.data)

    def finish(self) -> None:
        """End the current part: the final deflate block and the data descriptor."""
        entry = self._current
        if entry is None:
            raise RuntimeError("finish() outside a part")
        end = zlib.compressobj(COMPRESSLEVEL, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty final block
        entry.compressed += len(end)
        self._write(end)
        self._write(struct.pack("<IIII", 0x08074B50, entry.crc, entry.compressed, entry.size))
        self._entries.append(entry)
        self._current = None

    def writestr(self, name: str, data: bytes) -> None:
        """A whole small part at once."""
        self.start(name)
        self.add(deflate(data))
        self.finish()

    def close(self) -> None:
        """Write the central directory; the package is complete."""
        if self._current is not None:
            raise RuntimeError(f"close() before finishing {self._current.name.decode()!r}")
        start = self._offset
        for e in self._entries:
            record = struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                _VERSION | 3 << 8,  # made by: Unix
                _VERSION,
                _FLAGS,
                _DEFLATE,
                *_DOS_TIME,
                e.crc,
                e.compressed,
                e.size,
                len(e.name),
                0,
                0,
                0,
                0,
                0o100644 << 16,
                e.offset,
            )
            self._write(record + e.name)
        size = self._offset - start
        self._check(self._offset, "the package")
        if len(self._entries) > 0xFFFF:
            raise ZipLimitError(f"{len(self._entries)} parts: more than a zip without ZIP64 can hold")
        self._write(
            struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(self._entries), len(self._entries), size, start, 0)
        )

    @staticmethod
    def _check(value: int, what: str) -> None:
        if value > LIMIT:
            raise ZipLimitError(
                f"{what} passes 4 GiB; choose fewer branches or a shorter period "
                f"(超过 4 GiB，请减少分支机构或缩短期间)"
            )
