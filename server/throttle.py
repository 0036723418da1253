"""Sign-in throttle: too many wrong passwords for one account or from one address → 429 for a while.

Every password sign-in (dashboard, ``POST /api/tokens``, ``/admin`` basic auth)
goes through `check_password`. Each attempt is counted *before* the password
is checked, in one upsert per counter into ``signin_failures`` (a row per
account and per client address), so gunicorn workers and hosts share the
count through the database, as the token rate limit (`server.ratelimit`)
does, and a burst of parallel guesses cannot slip past it. A right password
takes its attempt back (and clears the account's count); an attempt over
either limit is refused without looking at the password, so even the right
one waits until the window that began with the first wrong one has passed.

``SIGNIN_MAX_FAILURES`` wrong passwords per account (default 5) and
``SIGNIN_MAX_FAILURES_PER_ADDRESS`` per client address (default 20, for the
guesser who tries many names) within ``SIGNIN_WINDOW_SECONDS`` (default 900).
Behind a reverse proxy, let the app see the client's address (Werkzeug's
``ProxyFix``), or every client counts as the proxy. The purge job
(`server.scheduling.jobs.purge`) deletes windows that ended.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, request
from sqlalchemy import case, delete, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from server import clock
from server.auth import check_user
from server.errors import ApiError
from server.storage.db import get_db
from server.storage.models import SigninFailureRow, UserRow, UtcDateTime

USER, ADDRESS = "user", "addr"
DEFAULTS = {"SIGNIN_MAX_FAILURES": 5, "SIGNIN_MAX_FAILURES_PER_ADDRESS": 20, "SIGNIN_WINDOW_SECONDS": 900}


class Throttled(ApiError):
    """Too many wrong passwords: 429, ``Retry-After`` seconds until the window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "signin_throttled",
            f"too many wrong passwords for this account or from this address; try again in {retry_after} s / "
            f"该账号或该地址的密码错误次数过多，请 {retry_after} 秒后再试",
            {"retry_after": retry_after},
            {"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


def _subjects(username: str) -> list[tuple[str, str, int]]:
    config = current_app.config
    return [
        (USER, username.casefold()[:200], int(config["SIGNIN_MAX_FAILURES"])),
        (ADDRESS, (request.remote_addr or "unknown")[:200], int(config["SIGNIN_MAX_FAILURES_PER_ADDRESS"])),
    ]


def _count(session: Session, scope: str, subject: str, now: datetime, window: timedelta) -> tuple[int, Any]:
    """Add one attempt to the counter (a new window if the last one ended): its count and window start."""
    insert = (sqlite if session.get_bind().dialect.name == "sqlite" else postgresql).insert
    table = SigninFailureRow.__table__
    started = literal(now, UtcDateTime())
    ended = table.c.first_at <= now - window
    stmt = (
        insert(table)
        .values(scope=scope, subject=subject, failures=1, first_at=now)
        .on_conflict_do_update(
            index_elements=["scope", "subject"],
            set_={
                "failures": case((ended, 1), else_=table.c.failures + 1),
                "first_at": case((ended, started), else_=table.c.first_at),
            },
        )
        .returning(table.c.failures, table.c.first_at)
    )
    failures, first_at = session.execute(stmt).one()
    return failures, first_at


def check_password(username: str, password: str) -> UserRow | None:
    """The active user (detached) with this name and password, else None; `Throttled` over a limit."""
    now = clock.now()
    window = timedelta(seconds=int(current_app.config["SIGNIN_WINDOW_SECONDS"]))
    subjects = _subjects(username)
    waits = []
    with get_db().write() as counting:
        for scope, subject, limit in subjects:
            failures, first_at = _count(counting, scope, subject, now, window)
            if failures > limit:
                waits.append((first_at + window - now).total_seconds())
    if waits:
        raise Throttled(max(1, math.ceil(max(waits))))
    with get_db().read() as session:
        user = check_user(session, username, password)
    if user is not None:
        table = SigninFailureRow.__table__
        (_, account, _), (_, address, _) = subjects
        with get_db().write() as counting:  # the right password takes its attempt back
            counting.execute(delete(table).where(table.c.scope == USER, table.c.subject == account))
            counting.execute(
                update(table)
                .where(table.c.scope == ADDRESS, table.c.subject == address, table.c.failures > 0)
                .values(failures=table.c.failures - 1)
            )
    return user


def purge(session: Session, now: datetime) -> int:
    """Delete the counters whose window ended: how many."""
    window = timedelta(seconds=int(current_app.config["SIGNIN_WINDOW_SECONDS"]))
    table = SigninFailureRow.__table__
    return session.execute(delete(table).where(table.c.first_at <= now - window)).rowcount or 0


def init_app(app: object) -> None:
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, value)  # type: ignore[attr-defined]
