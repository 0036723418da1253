"""``flask --app server demo``: a migrated database with demo branches, users and tickets."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from server.services.demo import BRANCHES, load
from server.storage.accounts import any_branch
from server.storage.db import get_db


@click.command("demo")
@click.option("--tickets", default=120, show_default=True, help="tickets per branch")
@with_appcontext
def demo(tickets: int) -> None:
    """Migrate the database and, if it is empty, load the demo branches, users and tickets."""
    db = get_db()
    db.upgrade()
    with db.read() as session:
        if any_branch(session):
            click.echo("the database already has branches: demo data not loaded")
            return
    tokens = load(tickets)
    click.echo(f"demo data loaded: {len(BRANCHES)} branches × {tickets} tickets")
    click.echo("head office: user hq / password hq-demo")
    for who, token in tokens.items():
        click.echo(f"token {who}: {token}")
