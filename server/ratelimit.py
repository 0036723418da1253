"""Rate limit per API token, shared by every worker and host through the database: 429 over the limit.

A fixed one-minute window per token: each request that presents a ``Bearer``
token adds one to its token's counter for the current minute in a single
upsert (``INSERT … SELECT … ON CONFLICT DO UPDATE … RETURNING``, SQLite ≥ 3.35
and PostgreSQL), so gunicorn workers on one host or several hosts all see the
same count. Only live tokens are counted (the ``SELECT`` finds the token by its
digest and skips a revoked one): a bad token costs no row and still gets its
401 from `server.auth`. A token's older windows are deleted when its first
request of a new minute arrives, so the table holds about one row per token.

Flask-Limiter was considered; its storages (memory, Redis, Memcached, MongoDB)
do not include the SQL database that is this service's only shared state.

``RATE_LIMIT_PER_MINUTE`` (default 600; 0 turns the limit off). The minute is
taken from the app's clock (`server.clock`), so tests pin it. A fixed window
lets a client send up to twice the limit across a minute boundary; the limit
is there against runaway clients, not to meter exactly.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from flask import Flask, current_app, request
from sqlalchemy import ForeignKey, Integer, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from server import clock
from server.auth import digest
from server.errors import envelope
from server.storage.db import get_db
from server.storage.models import Base, TokenRow

WINDOW_SECONDS = 60
DEFAULT_PER_MINUTE = 600


class RateLimitRow(Base):
    """How many requests a token made in one minute (``minute``: minutes since the Unix epoch)."""

    __tablename__ = "rate_limits"
    token_id: Mapped[int] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)


def window_of(moment: datetime) -> int:
    return math.floor(moment.timestamp()) // WINDOW_SECONDS


def count_request(token_hash: str, now: datetime) -> int | None:
    """Count one request of a live token in the minute of ``now``: its new count (None: no live token)."""
    db = get_db()
    window = window_of(now)
    insert = (sqlite if db.is_sqlite else postgresql).insert
    table = RateLimitRow.__table__
    live_token = select(TokenRow.id, literal(window), literal(1)).where(
        TokenRow.token_hash == token_hash, TokenRow.revoked_at.is_(None)
    )
    stmt = insert(table).from_select(["token_id", "minute", "hits"], live_token)
    stmt = stmt.on_conflict_do_update(
        index_elements=["token_id", "minute"], set_={"hits": table.c.hits + 1}
    ).returning(table.c.token_id, table.c.hits)
    with db.write() as session:
        row = session.execute(stmt).first()
        if row is None:
            return None
        token_id, count = row
        if count == 1:  # the token's first request this minute: its earlier windows are done with
            session.execute(
                delete(RateLimitRow).where(RateLimitRow.token_id == token_id, RateLimitRow.minute < window)
            )
        return count


def _limit_token_requests() -> Any:
    limit = current_app.config["RATE_LIMIT_PER_MINUTE"]
    header = request.headers.get("Authorization", "")
    if not limit or not header.startswith("Bearer "):
        return None
    now = clock.now()
    count = count_request(digest(header.removeprefix("Bearer ").strip()), now)
    if count is None or count <= limit:
        return None
    retry_after = max(1, math.ceil((window_of(now) + 1) * WINDOW_SECONDS - now.timestamp()))
    response = envelope(
        429,
        "rate_limited",
        f"too many requests with this token: more than {limit} a minute; retry in {retry_after} s / "
        f"此令牌的请求过多：每分钟超过 {limit} 次；请 {retry_after} 秒后重试",
        {"header": "Authorization", "limit_per_minute": limit, "retry_after": retry_after},
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


def init_app(app: Flask) -> None:
    app.config.setdefault("RATE_LIMIT_PER_MINUTE", DEFAULT_PER_MINUTE)
    app.before_request(_limit_token_requests)
