"""The server's notion of "now", injectable through ``app.config["CLOCK"]`` (tests pin it)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app


def system_now() -> datetime:
    return datetime.now(UTC)


def now() -> datetime:
    return current_app.config["CLOCK"]()
