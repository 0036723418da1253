"""``flask --app server ledger import FILE --branch SZ01``: bring in the complaint ledger a branch kept.

Without ``--push`` or ``-o`` it only shows the column mapping, a preview and
every problem, and writes nothing. ``--push`` imports the tickets through the
one service (door "ledger") and keeps the mapping as the branch's confirmed
one; ``-o`` writes them into a new branch workbook instead.
"""

from __future__ import annotations

import getpass
import json
import unicodedata
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from complaints.ledger import BY_KEY, ColumnMapping, preview_rows
from server import clock
from server.auth import ADMIN
from server.privacy import sees_phones
from server.services.changes import Actor
from server.services.errors import ServiceError
from server.services.ledger import LedgerPlan, import_plan, ledger_workbook, plan_ledger
from server.storage.db import get_db
from server.xlsx.errors import WorkbookError

ledger = AppGroup("ledger", help="A branch's own complaint ledger (投诉台账): preview it, import it.")

PREVIEW_COLUMNS = ("where", "ticket_id", "received_at", "customer_name", "contact", "category", "status")


def _mapping(path: Path | None, year: int | None, channel: str | None) -> ColumnMapping:
    given = ColumnMapping()
    if path is not None:
        try:
            given = ColumnMapping.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, OSError) as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
    if year is not None or channel:
        extra = ColumnMapping.from_json({"year": year, "channel": channel})
        given = ColumnMapping(given.columns, extra.year or given.year, extra.channel or given.channel)
    return given


def show_plan(plan: LedgerPlan, lang: str) -> None:
    """The mapping of each sheet, the first rows as they will be imported, the counts and every problem."""
    for sheet in plan.read.plans:
        rows = "–".join(str(r) for r in dict.fromkeys((sheet.header_rows[0], sheet.header_rows[-1])))
        year = sheet.year or "—"
        click.echo(
            f"[{sheet.title}] header row(s) {rows}, year of bare dates {year} / 表头行 {rows}，年份 {year}"
        )
        for c in sheet.columns:
            target = BY_KEY[c.field].label(lang) if c.field else "— (not imported / 不导入)"
            how = f" ({c.how})" if c.how else ""
            click.echo(f"  {c.letter:>3}  {_padded(c.header or '(blank)', 26)} → {target}{how}")
        click.echo(f"  {sheet.tickets} ticket row(s), {sheet.skipped} row(s) skipped")
    rows = preview_rows(plan.read, lang, masked=not sees_phones(ADMIN))
    if rows:
        click.echo("Preview / 预览:")
        for row in rows:
            click.echo("  " + " | ".join(row[k] for k in PREVIEW_COLUMNS))
    click.echo(
        f"{len(plan.read.tickets)} ticket(s): {len(plan.new)} new, {len(plan.changed)} changed in the "
        f"ledger, {len(plan.unchanged)} unchanged / 新建 {len(plan.new)}，台账有变更 {len(plan.changed)}，"
        f"未变 {len(plan.unchanged)}"
    )
    for label, problems in (("ERROR / 错误", plan.read.errors), ("note / 提示", plan.read.notices)):
        for problem in problems:
            click.echo(f"{label}: {problem.text(lang)}", err=label.startswith("ERROR"))


@ledger.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--branch", required=True, help="Branch code, e.g. SZ01.")
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON: {"columns": {"<header or letter>": "<field>" | null}, "year": 2026, "channel": "hotline"}.',
)
@click.option("--year", type=int, help="Year of dates written as month and day only (11月3日).")
@click.option("--channel", help="Channel of rows whose ledger names none (e.g. hotline, 营业厅).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--dry-run", is_flag=True, help="Show the mapping, preview and problems only (the default).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the tickets into a new branch workbook.",
)
@click.option("--push", is_flag=True, help="Import the tickets into the server's database.")
@click.option(
    "--save-mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the mapping used to this JSON file (to edit and pass back with --mapping).",
)
def import_command(
    path: Path,
    branch: str,
    mapping_path: Path | None,
    year: int | None,
    channel: str | None,
    lang: str,
    dry_run: bool,
    output: Path | None,
    push: bool,
    save_mapping: Path | None,
) -> None:
    """Preview a branch's ledger (.xlsx, .xls or .csv), then import it with --push or -o FILE."""
    if push and output:
        raise click.UsageError("give either -o FILE or --push, not both")
    given = _mapping(mapping_path, year, channel)
    now = clock.now()
    data = path.read_bytes()
    try:
        plan = plan_ledger(get_db(), branch, data, path.name, now=now, mapping=given)
    except WorkbookError as exc:
        raise click.ClickException(exc.summary(lang, limit=1000)) from exc
    except ServiceError as exc:
        raise click.ClickException(exc.message) from exc
    show_plan(plan, lang)
    if save_mapping is not None:
        confirmed = plan.mapping.merged(plan.read.plans).to_json()
        save_mapping.write_text(json.dumps(confirmed, ensure_ascii=False, indent=2), encoding="utf-8")
        click.echo(f"Wrote the mapping to {save_mapping}")
    if plan.read.errors:
        raise click.ClickException(
            f"{len(plan.read.errors)} problem(s): nothing imported / {len(plan.read.errors)} 个问题，未导入"
        )
    if dry_run or not (push or output):
        click.echo(
            "Nothing written (preview): import with --push, or -o FILE for a branch workbook. "
            "/ 仅预览，未写入。"
        )
        return
    if output is not None:
        server_url = current_app.config.get("SERVER_URL", "")
        output.write_bytes(ledger_workbook(plan, lang, server_url, now))
        click.echo(f"Wrote {output}: {len(plan.read.tickets)} ticket(s) / 已写入")
        return
    actor = Actor(_operator(), ADMIN, "ledger")
    done = import_plan(get_db(), plan, actor=actor, now=now)
    click.echo(
        f"Imported: {done.created} created, {done.updated} updated "
        f"/ 已导入：新建 {done.created}，更新 {done.updated}"
    )
    for old, new in done.renumbered:
        click.echo(f"renumbered / 重新编号: {old} → {new}")
    for problem in done.rejected:
        click.echo(f"rejected / 未接受: {problem.text(lang)}", err=True)


def _padded(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - used, 0)


def _operator() -> str:
    """Who runs the command, for the tickets' history."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"
