"""The dashboard blueprint; the view modules add their routes to it."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint

STATIC = Path(__file__).resolve().parent.parent / "static"

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    static_folder=str(STATIC),
    static_url_path="/static",
)
