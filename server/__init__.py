"""Complaint Desk server: the Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from complaints.sla import DEFAULT_TZ

REPO = Path(__file__).resolve().parent.parent

DEFAULTS: dict[str, Any] = {
    "SERVER_URL": "",
    "TIMEZONE": DEFAULT_TZ,
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then ``FLASK_*`` environment variables, then ``config`` (tests)."""
    app = Flask(__name__, instance_relative_config=True, template_folder=str(REPO / "templates"))
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env()
    if config is not None:
        app.config.from_mapping(config)

    from server.xlsx.cli import workbook_cli

    app.cli.add_command(workbook_cli)
    return app
