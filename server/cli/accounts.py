"""``flask --app server branch|user|token …``: the administrator's accounts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask.cli import AppGroup

from server import clock
from server.auth import BRANCH, HEAD_OFFICE, STAFF_ROLES, USER_ROLES, hash_password, issue_token
from server.storage import accounts
from server.storage.accounts import AccountError
from server.storage.db import get_db


@contextmanager
def refused_as_error() -> Iterator[None]:
    """Show a refused account change as the command's error (``Error: …``, exit code 1)."""
    try:
        yield
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("branch", cls=AppGroup)
def branch() -> None:
    """Branches."""


@branch.command("create")
@click.argument("code")
@click.option("--name", default="")
@click.option("--tz", "timezone", default="Asia/Shanghai", show_default=True)
def branch_create(code: str, name: str, timezone: str) -> None:
    """Create a branch."""
    with refused_as_error(), get_db().write() as session:
        accounts.create_branch(session, code, name, timezone, clock.now())
    click.echo(f"branch {code} created")


@branch.command("list")
def branch_list() -> None:
    """List branches."""
    with get_db().read() as session:
        for b in accounts.all_branches(session):
            click.echo(f"{b.code}\t{b.name}\t{b.timezone}")


@click.group("user", cls=AppGroup)
def user() -> None:
    """Head-office users, administrators, and a branch's investigators and department heads."""


@user.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(USER_ROLES), default=HEAD_OFFICE, show_default=True)
@click.option("--email", default="")
@click.option("--branch", "branch_code", default="", help="investigator, dept_head: their branch code")
@click.option("--staff-name", default="", help="investigator: the name the tickets' 调查人 column spells")
@click.option("--department", default="", help="dept_head (or an investigator): the 责任部门")
@click.password_option()
def user_create(
    username: str, role: str, email: str, branch_code: str, staff_name: str, department: str, password: str
) -> None:
    """Create a user (the password is asked twice)."""
    with refused_as_error(), get_db().write() as session:
        branch = accounts.find_branch(session, branch_code) if branch_code else None
        accounts.create_user(
            session,
            username,
            hash_password(password),
            role,
            email,
            clock.now(),
            branch=branch,
            staff_name=staff_name,
            department=department,
        )
    click.echo(f"user {username} ({role}) created")


@user.command("list")
def user_list() -> None:
    """List users (a staff account with its branch, staff name and department)."""
    with get_db().read() as session:
        codes = {b.id: b.code for b in accounts.all_branches(session)}
        for u in accounts.all_users(session):
            line = f"{u.username}\t{u.role}\t{'active' if u.active else 'disabled'}\t{u.email}"
            if u.role in STAFF_ROLES:
                line += f"\t{codes.get(u.branch_id or 0, '')}\t{u.staff_name}\t{u.department}"
            click.echo(line)


@click.group("token", cls=AppGroup)
def token() -> None:
    """API tokens (shown once, stored hashed)."""


@token.command("create")
@click.option("--branch", "branch_code", help="a branch token for this branch code")
@click.option("--user", "username", help="a token for this head-office user")
@click.option("--label", default="")
def token_create(branch_code: str | None, username: str | None, label: str) -> None:
    """Create a token for a branch or a user and print it once."""
    if bool(branch_code) == bool(username):
        raise click.UsageError("give exactly one of --branch or --user")
    with refused_as_error(), get_db().write() as session:
        if branch_code:
            owner = accounts.find_branch(session, branch_code)
            row, plain = issue_token(session, BRANCH, clock.now(), branch=owner, label=label)
        else:
            holder = accounts.find_user(session, username or "")
            if holder.role in STAFF_ROLES:
                raise AccountError(f"{holder.role} accounts sign in to the dashboard; they get no API token")
            row, plain = issue_token(session, holder.role, clock.now(), user=holder, label=label)
    click.echo(f"token {row.id} ({row.role}): {plain}")
    click.echo("keep it now: it is stored only as a hash and cannot be shown again", err=True)


@token.command("list")
def token_list() -> None:
    """List tokens (prefix only)."""
    with get_db().read() as session:
        for t in accounts.all_tokens(session):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            click.echo(f"{t.id}\t{t.role}\t{t.prefix}…\t{state}\t{t.label}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id."""
    with refused_as_error(), get_db().write() as session:
        accounts.revoke_token(session, token_id, clock.now())
    click.echo(f"token {token_id} revoked")
