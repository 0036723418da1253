"""``flask --app server workbook new|check``: make a branch workbook, check one."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from server.xlsx.errors import WorkbookError
from server.xlsx.reader import read_workbook
from server.xlsx.template import LANGUAGES, new_workbook

workbook = AppGroup("workbook", help="Branch workbooks: make a new one, check one.")


@workbook.command("new")
@click.option("--branch", required=True, help="Branch code, e.g. SZ01.")
@click.option(
    "--lang", type=click.Choice(LANGUAGES), default="zh", show_default=True, help="Header language."
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to save it (default: <branch>.xlsx).",
)
@click.option("--server-url", default=None, help="Sync server URL (default: the app's SERVER_URL).")
@click.option("--timezone", default=None, help="Branch time zone (default: the app's TIMEZONE).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def new_command(
    branch: str, lang: str, output: Path | None, server_url: str | None, timezone: str | None, force: bool
) -> None:
    """Make an empty branch workbook."""
    output = output or Path(f"{branch}.xlsx")
    if output.exists() and not force:
        raise click.ClickException(f"{output} exists; use --force to overwrite it")
    try:
        new_workbook(
            str(output),
            branch,
            lang,
            server_url=server_url if server_url is not None else current_app.config["SERVER_URL"],
            timezone=timezone or current_app.config["TIMEZONE"],
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {output} (branch {branch}, {lang})")


@workbook.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(["calamine", "openpyxl"]), default="calamine", show_default=True)
def check_command(path: Path, engine: str) -> None:
    """Read a branch workbook and list every problem in it."""
    try:
        book = read_workbook(path, now=datetime.now(UTC), engine=engine)
    except WorkbookError as exc:
        click.echo(exc.summary(limit=1000), err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s) in {path}") from exc
    click.echo(
        f"{path}: branch {book.settings.branch}, {len(book.tickets)} tickets, "
        f"{len(book.tasks)} tasks, {len(book.log)} log entries; no problems"
    )
