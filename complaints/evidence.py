"""Evidence attached to a ticket: its kinds, the checklist per category, and what a file really is.

The checklist says which kinds of evidence a ticket of a category needs (a
billing dispute needs the bill and the call records, a network fault the test
results); the operator changes it in the configuration (`parse_checklist`).
`missing` is the one rule every surface shows: the dashboard's ticket page,
the branch portal and the workbook's Evidence sheet.

A file's type is decided by its first bytes (`sniff`), never by the name or
the type the client claims: a page or a program renamed ``bill.pdf`` is
refused, and a PNG named ``.pdf`` is refused as mislabelled.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from complaints.enums import Category, Labelled
from complaints.schema import ColType, Column, Sheet


class EvidenceKind(Labelled):
    BILL = ("bill", "账单", "Bill")
    CALL_RECORDS = ("call_records", "通话记录", "Call records")
    CALL_RECORDING = ("call_recording", "通话录音", "Call recording")
    TEST_RESULTS = ("test_results", "测试结果", "Test results")
    SCREENSHOT = ("screenshot", "截图", "Screenshot")
    SMS_LOG = ("sms_log", "短信记录", "SMS log")
    AGREEMENT = ("agreement", "协议", "Agreement")
    OTHER = ("other", "其他", "Other")


Checklist = Mapping[Category, tuple[EvidenceKind, ...]]

DEFAULT_CHECKLIST: Checklist = {
    Category.BILLING_DISPUTE: (EvidenceKind.BILL, EvidenceKind.CALL_RECORDS),
    Category.NETWORK_FAULT: (EvidenceKind.TEST_RESULTS,),
}
"""The standard's examples; a category not named here needs no evidence."""


class EvidenceError(ValueError):
    """An attachment or a checklist that cannot be accepted; the message is in Chinese and English."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{zh} / {en}")
        self.code = code
        self.zh = zh
        self.en = en


def parse_checklist(config: Mapping[str, Iterable[str]]) -> Checklist:
    """The checklist from configuration: category → kinds, each by code or by its zh/en label."""
    checklist: dict[Category, tuple[EvidenceKind, ...]] = {}
    for name, kinds in config.items():
        try:
            category = Category.parse(name)
        except ValueError:
            raise EvidenceError(
                "bad_checklist",
                f"证据清单（EVIDENCE_CHECKLIST）中的投诉类别“{name}”不存在",
                f"the evidence checklist (EVIDENCE_CHECKLIST) names an unknown category {name!r}",
            ) from None
        parsed = []
        for kind in [kinds] if isinstance(kinds, str) else kinds:
            try:
                parsed.append(EvidenceKind.parse(kind))
            except ValueError:
                known = ", ".join(k.value for k in EvidenceKind)
                raise EvidenceError(
                    "bad_checklist",
                    f"证据清单中“{name}”的证据类型“{kind}”不存在（可用：{known}）",
                    f"the evidence checklist names an unknown kind {kind!r} for {name!r} (known: {known})",
                ) from None
        checklist[category] = tuple(dict.fromkeys(parsed))
    return checklist


def missing(
    category: Category | None, present: Collection[EvidenceKind], checklist: Checklist = DEFAULT_CHECKLIST
) -> tuple[EvidenceKind, ...]:
    """The kinds the checklist asks of ``category`` that no attachment of the ticket is."""
    if category is None:
        return ()
    return tuple(kind for kind in checklist.get(category, ()) if kind not in present)


def missing_text(kinds: Iterable[EvidenceKind], lang: str) -> str:
    """The missing kinds as one cell's text in ``lang`` (empty when nothing is missing)."""
    return ("、" if lang == "zh" else ", ").join(kind.label(lang) for kind in kinds)


# --- what a file is -----------------------------------------------------------------------------

SNIFF_BYTES = 512
"""How much of the file's beginning `sniff` needs."""


@dataclass(frozen=True, slots=True)
class FileType:
    mime: str
    extensions: tuple[str, ...]


PDF = FileType("application/pdf", (".pdf",))
PNG = FileType("image/png", (".png",))
JPEG = FileType("image/jpeg", (".jpg", ".jpeg"))
GIF = FileType("image/gif", (".gif",))
WEBP = FileType("image/webp", (".webp",))
MP3 = FileType("audio/mpeg", (".mp3",))
WAV = FileType("audio/wav", (".wav",))
AMR = FileType("audio/amr", (".amr",))
M4A = FileType("audio/mp4", (".m4a", ".mp4"))
OGG = FileType("audio/ogg", (".ogg", ".oga", ".opus"))
TEXT = FileType("text/plain", (".txt", ".csv", ".log"))

ALLOWED: tuple[FileType, ...] = (PDF, PNG, JPEG, GIF, WEBP, MP3, WAV, AMR, M4A, OGG, TEXT)


def sniff(head: bytes) -> FileType | None:
    """The type the first bytes of a file show, or None when it is none we accept."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"#!AMR"):
        return AMR
    if head[4:8] == b"ftyp" and head[8:11] in (b"M4A", b"mp4", b"iso", b"MP4", b"3gp"):
        return M4A
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"ID3") or _mpeg_frame(head):
        return MP3
    return TEXT if _plain_text(head) else None


def _mpeg_frame(head: bytes) -> bool:
    """An MP3 without a tag starts with a frame header: sync bits, then no reserved field."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = head[1] & 0x18, head[1] & 0x06
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x03
    return version != 0x08 and layer != 0 and bitrate not in (0, 15) and rate != 3


def _plain_text(head: bytes) -> bool:
    """Text a person wrote (an SMS export, a CSV), not markup a browser would run."""
    if not head or b"\x00" in head:
        return False
    body = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(body) - 3:  # only a character cut at the end of the sample is forgiven
            return False
        text = body[: exc.start].decode("utf-8")
    if text.lstrip().startswith("<"):
        return False  # HTML, SVG or XML: never stored as "text"
    return not any(unicodedata.category(ch) == "Cc" and ch not in "\r\n\t\f" for ch in text)


def check_file(name: str, head: bytes, size: int, max_bytes: int) -> FileType:
    """The type of an upload named ``name``, refused when empty, too big, unknown or mislabelled."""
    if size == 0:
        raise EvidenceError("empty_file", f"文件“{name}”是空的", f"the file {name!r} is empty")
    if size > max_bytes:
        raise EvidenceError(
            "too_large",
            f"文件“{name}”有 {size:,} 字节，超过上限 {max_bytes:,} 字节",
            f"the file {name!r} is {size:,} bytes, more than the limit of {max_bytes:,} bytes",
        )
    found = sniff(head[:SNIFF_BYTES])
    accepted = "PDF, PNG, JPEG, GIF, WebP, MP3, WAV, AMR, M4A, Ogg, TXT/CSV"
    if found is None:
        raise EvidenceError(
            "bad_type",
            f"文件“{name}”的内容不是可接受的证据类型（{accepted}）",
            f"the content of {name!r} is not a type of evidence we accept ({accepted})",
        )
    dot = name.rfind(".")
    extension = name[dot:].casefold() if dot > 0 else ""
    if extension not in found.extensions:
        raise EvidenceError(
            "mislabelled",
            f"文件“{name}”的内容是 {found.mime}，与扩展名“{extension or '（无）'}”不符；"
            f"请使用 {'/'.join(found.extensions)}",
            f"the content of {name!r} is {found.mime}, which does not match its extension "
            f"{extension or '(none)'!r}; name it {'/'.join(found.extensions)}",
        )
    return found


# --- the workbook's Evidence sheet ------------------------------------------------------------------

EVIDENCE = Sheet(
    "evidence",
    "证据",
    "Evidence",
    (
        Column("ticket_id", "投诉编号", "Ticket ID", ColType.TEXT, computed=True, width=18),
        Column("missing", "缺少的证据", "Missing evidence", ColType.TEXT, computed=True, width=24),
        Column("name", "附件（链接）", "Attachment (link)", ColType.TEXT, computed=True, width=34),
        Column("kind", "证据类型", "Kind", ColType.ENUM, computed=True, enum=EvidenceKind, width=12),
        Column("size", "大小（字节）", "Size (bytes)", ColType.INT, computed=True, width=12),
        Column("at", "上传时间", "Uploaded at", ColType.DATETIME, computed=True, width=17),
        Column("by", "上传人", "Uploaded by", ColType.TEXT, computed=True, width=14),
    ),
)
"""Written by the server on every merge, read by nobody: the attachments as links, never their content."""
