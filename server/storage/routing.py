"""Per-branch routing on the server: departments, their heads (named, e-mailed) and the branch coordinator.

A branch without stored rules uses `complaints.routing.default_routing_table()`;
the first edit stores the defaults for that branch and then changes one row.
Notices go to the head of the ticket's department (``head_email``, found by
`complaints.routing.head_rule`, which the notices, the scan and the digest
import from here) and the daily branch digest to the coordinator
(``flask --app server routing …``).
"""

from __future__ import annotations

import click
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from complaints.enums import Category
from complaints.routing import RoutingError, RoutingRule, RoutingTable, default_routing_table
from complaints.routing import head_rule as head_rule  # the notices, scan and digest import it from here
from server.storage.db import get_db
from server.storage.models import BranchContactRow, BranchRow, RoutingRuleRow

LANGUAGES = ("zh", "en")


def routing_table(session: Session, branch_id: int) -> RoutingTable:
    """The branch's routing table: its stored rules, or the defaults when it has none."""
    rows = session.scalars(select(RoutingRuleRow).where(RoutingRuleRow.branch_id == branch_id)).all()
    if not rows:
        return default_routing_table()
    return RoutingTable.from_rows(
        {
            "category": r.category,
            "department": r.department,
            "head": r.head,
            "head_email": r.head_email,
            "investigators": r.investigators,
        }
        for r in rows
    )


def set_rule(session: Session, branch_id: int, rule: RoutingRule) -> None:
    """Store ``rule`` for the branch (storing the defaults first if the branch had no rules)."""
    existing = {
        r.category: r
        for r in session.scalars(select(RoutingRuleRow).where(RoutingRuleRow.branch_id == branch_id))
    }
    if not existing:
        for default in default_routing_table().rules.values():
            row = RoutingRuleRow(branch_id=branch_id, category=default.category.value)
            _fill(row, default)
            session.add(row)
            existing[row.category] = row
    row = existing.get(rule.category.value)
    if row is None:
        row = RoutingRuleRow(branch_id=branch_id, category=rule.category.value)
        session.add(row)
    _fill(row, rule)
    session.flush()


def _fill(row: RoutingRuleRow, rule: RoutingRule) -> None:
    values = rule.to_row()
    row.department = values["department"]
    row.head = values["head"]
    row.head_email = values["head_email"]
    row.investigators = values["investigators"]


def branch_contact(session: Session, branch_id: int) -> BranchContactRow:
    """The branch coordinator (an empty one, language zh, if none is stored)."""
    row = session.get(BranchContactRow, branch_id)
    return row or BranchContactRow(branch_id=branch_id, coordinator="", email="", language="zh")


def _branch(session: Session, code: str) -> BranchRow:
    branch = session.scalar(select(BranchRow).where(BranchRow.code == code))
    if branch is None:
        raise click.ClickException(f"unknown branch {code!r} (flask --app server branch list)")
    return branch


def init_app(app: Flask) -> None:
    @app.cli.group("routing")
    def routing_group() -> None:
        """Departments, heads and the branch coordinator (who gets which notice)."""

    @routing_group.command("show")
    @click.argument("branch_code")
    def show(branch_code: str) -> None:
        """Print the branch's routing table and coordinator."""
        with get_db().read() as session:
            branch = _branch(session, branch_code)
            table = routing_table(session, branch.id)
            contact = branch_contact(session, branch.id)
        for row in table.to_rows():
            click.echo(
                "\t".join(row[k] for k in ("category", "department", "head", "head_email", "investigators"))
            )
        click.echo(f"coordinator\t{contact.coordinator}\t{contact.email}\t{contact.language}")

    @routing_group.command("set")
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
        if head_email is not None and head_email and "@" not in head_email:
            raise click.BadParameter(f"{head_email!r} is not an e-mail address", param_hint="--email")
        with get_db().write() as session:
            branch = _branch(session, branch_code)
            table = routing_table(session, branch.id)
            current = table.rules.get(wanted) or RoutingRule(wanted, department or "")
            row = current.to_row()
            for key, value in (
                ("department", department),
                ("head", head),
                ("head_email", head_email),
                ("investigators", investigators),
            ):
                if value is not None:
                    row[key] = value
            try:
                rule = RoutingRule.from_row(row)
            except RoutingError as exc:
                raise click.ClickException(str(exc)) from exc
            set_rule(session, branch.id, rule)
        click.echo(f"{branch_code} {wanted.value}: {rule.department} / {rule.head} <{rule.head_email}>")

    @routing_group.command("coordinator")
    @click.argument("branch_code")
    @click.option("--name", default=None)
    @click.option("--email", default=None)
    @click.option(
        "--lang", type=click.Choice(LANGUAGES), default=None, help="language of the branch's notices"
    )
    def coordinator(branch_code: str, name: str | None, email: str | None, lang: str | None) -> None:
        """Set the branch coordinator who receives the daily branch digest."""
        if email and "@" not in email:
            raise click.BadParameter(f"{email!r} is not an e-mail address", param_hint="--email")
        with get_db().write() as session:
            branch = _branch(session, branch_code)
            row = session.get(BranchContactRow, branch.id)
            if row is None:
                row = BranchContactRow(branch_id=branch.id, coordinator="", email="", language="zh")
                session.add(row)
            if name is not None:
                row.coordinator = name
            if email is not None:
                row.email = email
            if lang is not None:
                row.language = lang
        click.echo(f"{branch_code} coordinator: {row.coordinator} <{row.email}> ({row.language})")
