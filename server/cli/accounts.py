"""Administrator's commands: branches, users, tokens, demo data (``flask --app server …``)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import clock
from server.auth import BRANCH, HEAD_OFFICE, hash_password, issue_token
from server.storage.db import get_db
from server.storage.models import BranchRow, TokenRow, UserRow


def _branch(session: Session, code: str) -> BranchRow:
    branch = session.scalar(select(BranchRow).where(BranchRow.code == code))
    if branch is None:
        raise click.ClickException(f"unknown branch {code!r} (flask --app server branch list)")
    return branch


def create_branch(session: Session, code: str, name: str, timezone: str) -> BranchRow:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise click.ClickException(f"unknown time zone {timezone!r}") from exc
    if session.scalar(select(BranchRow).where(BranchRow.code == code)) is not None:
        raise click.ClickException(f"branch {code} already exists")
    branch = BranchRow(code=code, name=name, timezone=timezone, change_seq=0, created_at=clock.now())
    session.add(branch)
    session.flush()
    return branch


def init_app(app: Flask) -> None:
    @app.cli.group("branch")
    def branch_group() -> None:
        """Branches."""

    @branch_group.command("create")
    @click.argument("code")
    @click.option("--name", default="")
    @click.option("--tz", "timezone", default="Asia/Shanghai", show_default=True)
    def branch_create(code: str, name: str, timezone: str) -> None:
        """Create a branch."""
        with get_db().write() as session:
            create_branch(session, code, name, timezone)
        click.echo(f"branch {code} created")

    @branch_group.command("list")
    def branch_list() -> None:
        """List branches."""
        with get_db().read() as session:
            for b in session.scalars(select(BranchRow).order_by(BranchRow.code)):
                click.echo(f"{b.code}\t{b.name}\t{b.timezone}")

    @app.cli.group("user")
    def user_group() -> None:
        """Head-office users and administrators."""

    @user_group.command("create")
    @click.argument("username")
    @click.option("--role", type=click.Choice([HEAD_OFFICE, "admin"]), default=HEAD_OFFICE, show_default=True)
    @click.option("--email", default="")
    @click.password_option()
    def user_create(username: str, role: str, email: str, password: str) -> None:
        """Create a user (the password is asked twice)."""
        with get_db().write() as session:
            if session.scalar(select(UserRow).where(UserRow.username == username)) is not None:
                raise click.ClickException(f"user {username} already exists")
            session.add(
                UserRow(
                    username=username,
                    password_hash=hash_password(password),
                    role=role,
                    email=email,
                    created_at=clock.now(),
                )
            )
        click.echo(f"user {username} ({role}) created")

    @user_group.command("list")
    def user_list() -> None:
        """List users."""
        with get_db().read() as session:
            for u in session.scalars(select(UserRow).order_by(UserRow.username)):
                click.echo(f"{u.username}\t{u.role}\t{'active' if u.active else 'disabled'}\t{u.email}")

    @app.cli.group("token")
    def token_group() -> None:
        """API tokens (shown once, stored hashed)."""

    @token_group.command("create")
    @click.option("--branch", "branch_code", help="a branch token for this branch code")
    @click.option("--user", "username", help="a token for this head-office user")
    @click.option("--label", default="")
    def token_create(branch_code: str | None, username: str | None, label: str) -> None:
        """Create a token for a branch or a user and print it once."""
        if bool(branch_code) == bool(username):
            raise click.UsageError("give exactly one of --branch or --user")
        with get_db().write() as session:
            if branch_code:
                row, plain = issue_token(
                    session, BRANCH, clock.now(), branch=_branch(session, branch_code), label=label
                )
            else:
                user = session.scalar(select(UserRow).where(UserRow.username == username))
                if user is None:
                    raise click.ClickException(f"unknown user {username!r}")
                row, plain = issue_token(session, user.role, clock.now(), user=user, label=label)
        click.echo(f"token {row.id} ({row.role}): {plain}")
        click.echo("keep it now: it is stored only as a hash and cannot be shown again", err=True)

    @token_group.command("list")
    def token_list() -> None:
        """List tokens (prefix only)."""
        with get_db().read() as session:
            for t in session.scalars(select(TokenRow).order_by(TokenRow.id)):
                state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
                click.echo(f"{t.id}\t{t.role}\t{t.prefix}…\t{state}\t{t.label}")

    @token_group.command("revoke")
    @click.argument("token_id", type=int)
    def token_revoke(token_id: int) -> None:
        """Revoke a token by its id."""
        with get_db().write() as session:
            row = session.get(TokenRow, token_id)
            if row is None:
                raise click.ClickException(f"no token {token_id}")
            row.revoked_at = row.revoked_at or clock.now()
        click.echo(f"token {token_id} revoked")
