"""The ``flask --app server …`` commands of administrators and head office (registered by `init_app`)."""

from __future__ import annotations

from flask import Flask

from server.cli import accounts, consolidate, demo
from server.cli.workbook import workbook_cli


def init_app(app: Flask) -> None:
    accounts.init_app(app)
    demo.init_app(app)
    consolidate.init_app(app)
    app.cli.add_command(workbook_cli)
