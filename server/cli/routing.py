"""``flask --app server routing show|set|coordinator|emergency``: who gets which notice in a branch."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from complaints.enums import Category
from complaints.routing import RoutingError, RoutingRule
from server.cli.accounts import refused_as_error
from server.storage.accounts import find_branch
from server.storage.db import get_db
from server.storage.routing import (
    EMERGENCY_ROLES,
    LANGUAGES,
    branch_contact,
    emergency_contacts,
    routing_table,
    set_coordinator,
    set_emergency_contact,
    set_rule,
)

RULE_FIELDS = ("category", "department", "head", "head_email", "investigators")


@click.group("routing", cls=AppGroup)
def routing() -> None:
    """Departments, heads and the branch coordinator (who gets which notice)."""


@routing.command("show")
@click.argument("branch_code")
def show(branch_code: str) -> None:
    """Print the branch's routing table and coordinator."""
    with refused_as_error(), get_db().read() as session:
        branch = find_branch(session, branch_code)
        table = routing_table(session, branch.id)
        contact = branch_contact(session, branch.id)
        emergency = emergency_contacts(session, branch.id)
    for row in table.to_rows():
        click.echo("\t".join(row[k] for k in RULE_FIELDS))
    for role in EMERGENCY_ROLES:
        named = emergency.get(role)
        click.echo(f"{role}\t{named.name if named else ''}\t{named.email if named else ''}")
    click.echo(f"coordinator\t{contact.coordinator}\t{contact.email}\t{contact.language}")


@routing.command("set")
@click.argument("branch_code")
@click.argument("category")
@click.option("--department", help="responsible department (default: unchanged)")
@click.option("--head", help="department head's name")
@click.option("--email", "head_email", help="department head's e-mail address")
@click.option("--investigators", help="comma-separated names")
def set_command(
    branch_code: str,
    category: str,
    department: str | None,
    head: str | None,
    head_email: str | None,
    investigators: str | None,
) -> None:
    """Change one category's rule (category as code or zh/en label)."""
    try:
        wanted = Category.parse(category)
    except ValueError as exc:
        codes = ", ".join(c.value for c in Category)
        raise click.BadParameter(f"{exc}; use one of {codes}", param_hint="CATEGORY") from exc
    if head_email and "@" not in head_email:
        raise click.BadParameter(f"{head_email!r} is not an e-mail address", param_hint="--email")
    changes = {
        "department": department,
        "head": head,
        "head_email": head_email,
        "investigators": investigators,
    }
    with refused_as_error(), get_db().write() as session:
        branch = find_branch(session, branch_code)
        current = routing_table(session, branch.id).rules.get(wanted) or RoutingRule(wanted, department or "")
        row = current.to_row() | {key: value for key, value in changes.items() if value is not None}
        try:
            rule = RoutingRule.from_row(row)
        except RoutingError as exc:
            raise click.ClickException(str(exc)) from exc
        set_rule(session, branch.id, rule)
    click.echo(f"{branch_code} {wanted.value}: {rule.department} / {rule.head} <{rule.head_email}>")


@routing.command("coordinator")
@click.argument("branch_code")
@click.option("--name", default=None)
@click.option("--email", default=None)
@click.option("--lang", type=click.Choice(LANGUAGES), default=None, help="language of the branch's notices")
def coordinator(branch_code: str, name: str | None, email: str | None, lang: str | None) -> None:
    """Set the branch coordinator who receives the daily branch digest."""
    if email and "@" not in email:
        raise click.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
    with refused_as_error(), get_db().write() as session:
        row = set_coordinator(session, find_branch(session, branch_code).id, name, email, lang)
    click.echo(f"{branch_code} coordinator: {row.coordinator} <{row.email}> ({row.language})")


@routing.command("emergency")
@click.argument("branch_code")
@click.argument("role", type=click.Choice(tuple(EMERGENCY_ROLES)))
@click.option("--name", default=None)
@click.option("--email", default=None)
def emergency(branch_code: str, role: str, name: str | None, email: str | None) -> None:
    """Name who is told when a ticket takes the emergency path: senior management, legal or PR."""
    if email and "@" not in email:
        raise click.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
    with refused_as_error(), get_db().write() as session:
        row = set_emergency_contact(session, find_branch(session, branch_code).id, role, name, email)
    click.echo(f"{branch_code} {role}: {row.name} <{row.email}>")
