"""Idempotency keys: a retried request returns the stored response instead of acting twice.

The key is claimed inside the same transaction that does the work, so either
both commit or neither does. A concurrent retry waits on the claim (the unique
index on PostgreSQL, the write lock on SQLite) and then replays the response.

A key is kept ``IDEMPOTENCY_KEEP_HOURS`` (default 48) after it was claimed —
long enough for a client to resend after a crash, a night offline or a weekend
of Excel left open — and then deleted by the purge job
(`server.scheduling.jobs.purge`), with the response it stored (a full pull can
be hundreds of kilobytes). A request resent with a key older than that is run
as a new request; a sync resend is still safe then, because every row carries
its sync key and its base version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.services.errors import Invalid, Malformed
from server.storage.db import Database
from server.storage.models import IdempotencyRow

MAX_KEY = 200
KEEP_HOURS = 48


def request_hash(body: Any) -> str:
    """A digest of the request body's meaning (key order and spacing do not matter)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _replay(row: IdempotencyRow, digest: str) -> tuple[int, Any]:
    if row.request_hash != digest:
        raise Invalid(
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request; make a new key for a new request",
            {"header": "Idempotency-Key"},
        )
    return row.status_code, json.loads(row.response)


def _stored(db: Database, principal: str, key: str) -> IdempotencyRow | None:
    with db.read() as session:
        return session.scalar(
            select(IdempotencyRow).where(IdempotencyRow.principal == principal, IdempotencyRow.key == key)
        )


def run_once(
    db: Database,
    principal: str,
    key: str | None,
    body: Any,
    now: datetime,
    work: Callable[[Session], tuple[int, Any]],
) -> tuple[int, Any]:
    """Run ``work`` once per (principal, key) and body; replay its response for a retry."""
    if not key or len(key) > MAX_KEY:
        raise Malformed(
            "idempotency_key_required",
            f"send an Idempotency-Key header (1–{MAX_KEY} characters)",
            {"header": "Idempotency-Key"},
        )
    digest = request_hash(body)
    existing = _stored(db, principal, key)
    if existing is not None:
        return _replay(existing, digest)
    try:
        with db.write() as session:
            claim = IdempotencyRow(
                principal=principal, key=key, request_hash=digest, status_code=0, response="", created_at=now
            )
            session.add(claim)
            session.flush()
            status, response = work(session)
            claim.status_code = status
            claim.response = json.dumps(response, ensure_ascii=False)
    except IntegrityError:
        existing = _stored(db, principal, key)
        if existing is None:
            raise
        return _replay(existing, digest)
    return status, response


def purge(session: Session, now: datetime, keep_hours: float = KEEP_HOURS) -> int:
    """Delete the keys claimed more than ``keep_hours`` before ``now``, with their responses: how many."""
    cutoff = now - timedelta(hours=keep_hours)
    return session.execute(delete(IdempotencyRow).where(IdempotencyRow.created_at < cutoff)).rowcount or 0
