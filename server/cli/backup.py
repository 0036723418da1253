"""``flask --app server backup -o FILE`` and ``restore FILE``: the whole database, while the service runs."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from server.storage import backup as backups
from server.storage.db import get_db
from server.storage.evidence import evidence_folder


@click.command("backup")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_appcontext
def backup(output: Path) -> None:
    """Write a consistent copy of the database to OUTPUT (SQLite: online backup; PostgreSQL: pg_dump)."""
    try:
        made = backups.backup(get_db(), output, evidence=evidence_folder())
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"backed up {made.kind} database (schema {made.revision}) to {made.path}: "
        f"{made.size:,} bytes in {made.seconds:.2f} s"
    )
    click.echo(f"evidence files copied to {made.path.parent / backups.EVIDENCE}: {made.evidence_copied}")


@click.command("restore")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="replace a database that already holds data")
@with_appcontext
def restore(source: Path, force: bool) -> None:
    """Replace the database's contents with the backup SOURCE (stop the service first)."""
    try:
        done = backups.restore(get_db(), source, force=force, evidence=evidence_folder())
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    replaced = ", ".join(f"{n} {t}" for t, n in done.replaced.items())
    holds = ", ".join(f"{n} {t}" for t, n in done.now_holds.items())
    click.echo(f"restored {done.source.kind} backup {done.source.path} (schema {done.source.revision})")
    click.echo(f"into {done.target} in {done.seconds:.2f} s")
    click.echo(f"replaced: {replaced}" if any(done.replaced.values()) else "replaced: nothing (no data)")
    click.echo(f"it now holds: {holds}")
    click.echo(f"evidence files restored: {done.evidence_restored}")
    for name in done.evidence_damaged:
        click.echo(
            f"证据文件 {name} 的备份已损坏，未恢复 | "
            f"evidence file {name} is damaged in the backup: not restored"
        )
    if done.upgraded_to:
        click.echo(f"schema upgraded from {done.source.revision} to {done.upgraded_to}")
