"""Evidence files on disk, kept once per content hash, and the attachments' rows.

The default store is a folder (``EVIDENCE_DIR``, by default ``instance/evidence``):
each file lives at ``<first two hex digits>/<sha256>``, written 0600 through a
temporary name and renamed, so a reader never sees half a file and a second
upload of the same content (to any ticket) stores nothing. The workbooks kept for
download (`server.services.reports`) are kept here too, so every host serves them
and a backup carries them. Another backend (an
object-store bucket) is an object with the same four methods as `FolderStore`,
returned by `evidence_store`; none is built in.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.files import PRIVATE, write_private
from server.storage.models import AttachmentRow, TicketRow
from server.storage.rows import chunks


class EvidenceStore(Protocol):
    def put(self, data: bytes) -> str:
        """Keep ``data`` (if not already kept) and return its sha256."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The content kept under ``sha256``."""
        ...

    def has(self, sha256: str) -> bool: ...

    def put_file(self, path: Path) -> str:
        """Keep the file at ``path`` (taken: moved into the store, or deleted) and return its sha256."""
        ...


class FolderStore:
    """Files in a folder of the server's own (0700), each once, named by its sha256."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"not a sha256: {sha256!r}")
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self._path(sha256).is_file()

    def put(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        path = self._path(sha256)
        if path.is_file():
            return sha256
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = path.with_name(f".{sha256}.{secrets.token_hex(4)}")
        write_private(temporary, data)
        os.replace(temporary, path)  # atomic: two uploads of one file both end with the same whole file
        return sha256

    def put_file(self, path: Path) -> str:
        sha256 = file_sha256(path)
        target = self._path(sha256)
        if target.is_file():
            path.unlink()
            return sha256
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temporary = target.with_name(f".{sha256}.{secrets.token_hex(4)}")
        shutil.move(path, temporary)  # a rename within the store's file system, else a copy
        os.chmod(temporary, PRIVATE)
        os.replace(temporary, target)
        return sha256

    def open(self, sha256: str) -> BinaryIO:
        return self._path(sha256).open("rb")


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks (a workbook may be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def evidence_folder() -> Path:
    """The app's evidence folder: ``EVIDENCE_DIR``, or ``evidence`` in the instance folder."""
    return Path(current_app.config.get("EVIDENCE_DIR") or Path(current_app.instance_path) / "evidence")


def evidence_store() -> EvidenceStore:
    """The app's store, in `evidence_folder`."""
    return FolderStore(evidence_folder())


def attachments_of(session: Session, ticket_keys: Iterable[str]) -> dict[str, list[AttachmentRow]]:
    """Each ticket's attachments, oldest first."""
    keys = sorted(set(ticket_keys))
    found: dict[str, list[AttachmentRow]] = {key: [] for key in keys}
    for chunk in chunks(keys):
        query = (
            select(AttachmentRow)
            .where(AttachmentRow.ticket_key.in_(chunk))
            .order_by(AttachmentRow.at, AttachmentRow.id)
        )
        for row in session.scalars(query):
            found[row.ticket_key].append(row)
    return found


def branch_attachments(session: Session, branch_id: int) -> dict[str, list[AttachmentRow]]:
    """Every attachment of a branch, by ticket, oldest first."""
    found: dict[str, list[AttachmentRow]] = {}
    query = (
        select(AttachmentRow)
        .where(AttachmentRow.branch_id == branch_id)
        .order_by(AttachmentRow.at, AttachmentRow.id)
    )
    for row in session.scalars(query):
        found.setdefault(row.ticket_key, []).append(row)
    return found


def branch_ticket(session: Session, branch_id: int, ticket_id: str) -> TicketRow | None:
    """The branch's own ticket numbered ``ticket_id`` (another branch's is none)."""
    query = select(TicketRow).where(TicketRow.branch_id == branch_id, TicketRow.ticket_id == ticket_id)
    return session.scalars(query).first()


def branch_attachment(session: Session, branch_id: int | None, attachment_id: int) -> AttachmentRow | None:
    """The attachment, if ``branch_id`` (None: head office, every branch) may see it."""
    row = session.get(AttachmentRow, attachment_id)
    return row if row is not None and branch_id in (None, row.branch_id) else None
