"""``flask --app server db upgrade``: create or upgrade the database schema."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from server.storage.db import get_db


@click.group("db", cls=AppGroup)
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Create or upgrade the database schema (Alembic)."""
    database = get_db()
    database.upgrade(revision)
    click.echo(f"database at {revision}: {database.engine.url.render_as_string(hide_password=True)}")
