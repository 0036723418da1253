"""Branches, users and tokens as an administrator manages them (``flask --app server branch|user|token …``).

Tokens are made by `server.auth.issue_token` (it knows their format and hash);
this module finds, lists, creates and revokes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.storage.models import BranchRow, TokenRow, UserRow


class AccountError(ValueError):
    """An account change or look-up that cannot be done; the message says why (and what to do)."""


def find_branch(session: Session, code: str) -> BranchRow:
    """The branch with ``code``; `AccountError` if there is none."""
    branch = session.scalar(select(BranchRow).where(BranchRow.code == code))
    if branch is None:
        raise AccountError(f"unknown branch {code!r} (flask --app server branch list)")
    return branch


def any_branch(session: Session) -> bool:
    """Whether the database has a branch yet."""
    return session.scalar(select(BranchRow.id).limit(1)) is not None


def all_branches(session: Session) -> Sequence[BranchRow]:
    """Every branch, by code."""
    return session.scalars(select(BranchRow).order_by(BranchRow.code)).all()


def create_branch(session: Session, code: str, name: str, timezone: str, now: datetime) -> BranchRow:
    """Add a branch; `AccountError` for an unknown time zone or a code already taken."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise AccountError(f"unknown time zone {timezone!r}") from exc
    if session.scalar(select(BranchRow.id).where(BranchRow.code == code)) is not None:
        raise AccountError(f"branch {code} already exists")
    branch = BranchRow(code=code, name=name, timezone=timezone, change_seq=0, created_at=now)
    session.add(branch)
    session.flush()
    return branch


def find_user(session: Session, username: str) -> UserRow:
    """The user called ``username``; `AccountError` if there is none."""
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        raise AccountError(f"unknown user {username!r}")
    return user


def all_users(session: Session) -> Sequence[UserRow]:
    """Every user, by name."""
    return session.scalars(select(UserRow).order_by(UserRow.username)).all()


def create_user(
    session: Session,
    username: str,
    password_hash: str,
    role: str,
    email: str,
    now: datetime,
    *,
    branch: BranchRow | None = None,
    staff_name: str = "",
    department: str = "",
) -> UserRow:
    """Add a user; `AccountError` if the name is taken or a staff account is not bound as it must be.

    An investigator needs a branch and the staff name the tickets' 调查人 column spells; a department
    head a branch and a department. Head-office and admin users have neither.
    """
    if session.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
        raise AccountError(f"user {username} already exists")
    staff_name, department = staff_name.strip(), department.strip()
    if role == "investigator" and (branch is None or not staff_name):
        raise AccountError("an investigator needs --branch and --staff-name (as the tickets name them)")
    if role == "dept_head" and (branch is None or not department):
        raise AccountError("a department head needs --branch and --department")
    if role not in ("investigator", "dept_head") and (branch is not None or staff_name or department):
        raise AccountError(f"a {role} user is not bound to a branch, staff name or department")
    user = UserRow(
        username=username,
        password_hash=password_hash,
        role=role,
        email=email,
        created_at=now,
        branch_id=branch.id if branch is not None else None,
        staff_name=staff_name,
        department=department,
    )
    session.add(user)
    session.flush()
    return user


def all_tokens(session: Session) -> Sequence[TokenRow]:
    """Every token, revoked ones included, oldest first."""
    return session.scalars(select(TokenRow).order_by(TokenRow.id)).all()


def revoke_token(session: Session, token_id: int, now: datetime) -> TokenRow:
    """Revoke the token (a token revoked before keeps its first revocation time)."""
    row = session.get(TokenRow, token_id)
    if row is None:
        raise AccountError(f"no token {token_id}")
    row.revoked_at = row.revoked_at or now
    return row


def end_sessions(session: Session, user_id: int) -> None:
    """End every dashboard session of the user: sessions signed in under an older generation are refused."""
    session.execute(
        update(UserRow).where(UserRow.id == user_id).values(session_generation=UserRow.session_generation + 1)
    )
