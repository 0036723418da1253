"""Accounts: branch API tokens, head-office users, roles; the request's principal.

Tokens are shown once and stored only as SHA-256 digests (they are long random
strings, so a fast hash is enough); a presented token is looked up by digest and
compared in constant time. Passwords are hashed with Werkzeug (scrypt).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache, wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from server.errors import ApiError
from server.storage.db import get_db
from server.storage.models import BranchRow, TokenRow, UserRow

BRANCH, HEAD_OFFICE, ADMIN = "branch", "head_office", "admin"
ROLES = (BRANCH, HEAD_OFFICE, ADMIN)
"""The roles of API tokens: a device of a branch, or a head-office or admin user."""
INVESTIGATOR, DEPT_HEAD = "investigator", "dept_head"
STAFF_ROLES = (INVESTIGATOR, DEPT_HEAD)
"""Personal accounts of a branch's staff, bound to the branch and a staff name or department: they sign in
to the dashboard for their own tickets only, and get no API token (the branch token stays for devices)."""
USER_ROLES = (HEAD_OFFICE, ADMIN, *STAFF_ROLES)
TOKEN_PREFIX = "cdt_"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    """Who is calling: a branch (with its branch) or a head-office / admin user."""

    role: str
    name: str
    token_id: int
    branch_id: int | None = None
    branch_code: str = ""
    user_id: int | None = None

    @property
    def key(self) -> str:
        """A stable key for per-caller records (idempotency keys, rate limits)."""
        return f"branch:{self.branch_id}" if self.branch_id is not None else f"user:{self.user_id}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    role: str,
    now: datetime,
    branch: BranchRow | None = None,
    user: UserRow | None = None,
    label: str = "",
) -> tuple[TokenRow, str]:
    """Create a token; the plain token is returned once and never stored."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
    if (role == BRANCH) != (branch is not None):
        raise ValueError("a branch token needs a branch, and only a branch token has one")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(
        token_hash=digest(plain),
        prefix=plain[: len(TOKEN_PREFIX) + 4],
        role=role,
        branch_id=branch.id if branch else None,
        user_id=user.id if user else None,
        label=label,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, plain


def hash_password(password: str) -> str:
    return generate_password_hash(password)


@cache
def _dummy_hash() -> str:
    """A hash made once, checked when the user is unknown: as much work as for a known user, not twice it."""
    return hash_password(secrets.token_urlsafe(16))


def check_user(session: Session, username: str, password: str) -> UserRow | None:
    """The active user with this name and password; use `server.throttle.check_password` at a door."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)  # same work whether or not the user exists
        return None
    return user if check_password_hash(user.password_hash, password) else None


def authenticate(header: str | None) -> Principal:
    """The principal of a ``Bearer`` token; 401 for a missing, unknown or revoked token."""
    if not header or not header.startswith("Bearer "):
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>'")
    presented = digest(header.removeprefix("Bearer ").strip())
    with get_db().read() as session:
        row = session.scalar(select(TokenRow).where(TokenRow.token_hash == presented))
        if row is None or not hmac.compare_digest(row.token_hash, presented) or row.revoked_at is not None:
            raise ApiError(401, "unauthorized", "the token is unknown or revoked")
        if row.branch_id is not None:
            branch = session.get(BranchRow, row.branch_id)
            assert branch is not None
            return Principal(row.role, branch.code, row.id, branch.id, branch.code)
        user = session.get(UserRow, row.user_id)
        if user is None or not user.active:
            raise ApiError(401, "unauthorized", "the token's user is disabled")
        return Principal(row.role, user.username, row.id, user_id=user.id)


def require(*roles: str) -> Callable[[F], F]:
    """Let the view run only for a token of one of ``roles``; the principal is in ``g.principal``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate(request.headers.get("Authorization"))
            if principal.role not in roles:
                raise ApiError(403, "forbidden", f"this needs the role {' or '.join(roles)}")
            g.principal = principal
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def current() -> Principal:
    return g.principal
