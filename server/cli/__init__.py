"""The ``flask --app server …`` commands of administrators and head office, one module per concern.

Each module holds module-level click commands that call `server.storage`,
`server.services` or `server.scheduling`; `init_app` only registers them.
"""

from __future__ import annotations

from flask import Flask

from server.cli import accounts, backup, consolidate, db, demo, dossier, ledger, routing, scheduler, workbook

COMMANDS = (
    accounts.branch,
    accounts.user,
    accounts.token,
    db.db,
    demo.demo,
    routing.routing,
    scheduler.scheduler,
    consolidate.consolidate,
    workbook.workbook,
    backup.backup,
    backup.restore,
    ledger.ledger,
    dossier.dossier,
)


def init_app(app: Flask) -> None:
    """Register every command on ``app.cli``."""
    for command in COMMANDS:
        app.cli.add_command(command)
