"""``flask --app server consolidate``: the head-office consolidated workbook to a file, with progress."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from complaints.periods import Period
from server import clock
from server.files import private_open
from server.services.analysis import UnknownBranchError
from server.services.consolidated import ConsolidateOptions, build_consolidated, count_rows, parse_branches
from server.storage.db import get_db


@click.command("consolidate")
@with_appcontext
@click.option("--branches", default="", help="branch codes separated by commas (default: every branch)")
@click.option("--start", required=True, type=click.DateTime(["%Y-%m-%d"]), help="first day, e.g. 2026-11-01")
@click.option(
    "--end", required=True, type=click.DateTime(["%Y-%m-%d"]), help="day after the last, e.g. 2026-12-01"
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--show-phones", is_flag=True, help="show contact numbers in full (masked by default)")
@click.option(
    "--workers", type=click.IntRange(0, 16), default=None, help="worker processes (default: automatic)"
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def consolidate(
    branches: str,
    start: datetime,
    end: datetime,
    lang: str,
    show_phones: bool,
    workers: int | None,
    output: Path,
) -> None:
    """Write the consolidated workbook (tickets, KPIs, monthly analysis) of a period to OUTPUT.

    汇总工作簿：所选分支机构在期间 [start, end) 受理的投诉、KPI 与月度分析。
    """
    if not start < end:
        raise click.BadParameter(
            f"{start:%Y-%m-%d} is not before {end:%Y-%m-%d} (开始日期须早于结束日期)", param_hint="--end"
        )
    config = current_app.config
    try:
        period = Period.chosen(start.date(), end.date())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--start/--end") from exc
    options = ConsolidateOptions(
        branches=parse_branches(branches),
        period=period,
        lang=lang,
        show_phones=show_phones,
        generated_at=clock.now(),
        timezone=config["TIMEZONE"],
        calendar_path=config.get("CALENDAR_FILE"),
        workers=workers,
    )
    db = get_db()
    try:
        total = count_rows(db, options)
    except UnknownBranchError as exc:
        raise click.BadParameter(
            f"unknown branch code(s) 未知分支机构: {', '.join(exc.codes)}", param_hint="--branches"
        ) from exc
    partial = output.with_name(output.name + ".part")
    with (
        private_open(partial) as target,
        click.progressbar(length=total, label="tickets 投诉单", file=sys.stderr) as bar,
    ):
        summary = build_consolidated(db, target, options, progress=bar.update)
    partial.replace(output)
    counts = ", ".join(f"{key} {n}" for key, n in summary.rows.items())
    click.echo(f"{output}: {len(summary.titles)} sheets ({counts})")
