"""Complaint Desk's Flask service: sync API, accounts, storage, workbooks.

``create_app(config=None)``: defaults, then ``instance/config.py`` and
``FLASK_``-prefixed environment variables (``FLASK_DATABASE_URL=…``), then the
test dict.
"""

from __future__ import annotations

import gc
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from jinja2 import FileSystemBytecodeCache
from jinja2.bccache import Bucket

from complaints.levels import LevelRules
from complaints.rootcause import categories_from_settings
from complaints.sla import DEFAULT_TZ, policy_from_settings
from server import (
    api,
    cli,
    dashboard,
    errors,
    home,
    jsonbody,
    limits,
    portal,
    ratelimit,
    remote,
    throttle,
)
from server.admin import pages as admin_pages
from server.clock import system_now
from server.scheduling import scheduler
from server.services import evidence
from server.storage import db

REPO = Path(__file__).resolve().parent.parent


def _instance_secret(instance: Path) -> str:
    """A secret key kept in the instance folder, so every worker of one host signs sessions alike.

    Several hosts must share ``FLASK_SECRET_KEY`` instead.
    """
    path = instance / "secret-key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        draft = instance / f"secret-key.{os.getpid()}.{secrets.token_hex(4)}"
        draft.write_text(secrets.token_hex(32))
        draft.chmod(0o600)
        try:
            os.link(draft, path)  # atomic: the first worker's key wins, the others read it
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


class _TemplateCache(FileSystemBytecodeCache):
    """Compiled templates kept in a folder, so that a fresh process (a job run from the command line, a
    new worker) loads a template's code instead of compiling it: 5 ms for a notice's e-mail, in every
    scan that sends the first one. Keyed by the template's source: an edited template is compiled again.
    """

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:  # a full disk or a folder made read-only costs a compile, never a page or notice
            pass


def _template_cache(folder: Path) -> _TemplateCache | None:
    """The cache of compiled templates in ``folder``; None (compile in each process) if it cannot be made."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _TemplateCache(str(folder))


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: defaults, then instance config and ``FLASK_*`` environment, then ``config`` (tests)."""
    app = Flask(__name__, instance_relative_config=True, template_folder=str(REPO / "templates"))
    app.config.from_mapping(
        DATABASE_URL=f"sqlite:///{Path(app.instance_path) / 'complaint-desk.db'}",
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        CLOCK=system_now,
        CALENDAR_FILE=os.environ.get("COMPLAINTS_CALENDAR"),
        SYNC_VERSION_CHECK=True,
        SERVER_URL="",
        TIMEZONE=DEFAULT_TZ,
        TEMPLATE_CACHE_DIR=str(Path(app.instance_path) / "template-cache"),
    )
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if config is not None:
        app.config.from_mapping(config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path))
    policy_from_settings(app.config.get("SLA_POLICY") or {})  # a bad setting stops the start, naming it
    LevelRules(**(app.config.get("LEVEL_RULES") or {}))  # so does a bad level rule (place suffixes)
    categories_from_settings(app.config.get("ROOT_CAUSE_CATEGORIES"))  # so does an unknown fishbone category
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if app.config["TEMPLATE_CACHE_DIR"]:
        app.jinja_options = {
            **app.jinja_options,
            "bytecode_cache": _template_cache(Path(app.config["TEMPLATE_CACHE_DIR"])),
        }

    limits.init_app(app)  # first: a big body's parse runs with the collector paused
    ratelimit.init_app(app)
    throttle.init_app(app)
    jsonbody.init_app(app)  # before the API's own checks, which read the body
    db.init_app(app)
    api.init_app(app)
    errors.init_app(app)  # after the API, whose own error handlers it replaces
    cli.init_app(app)
    dashboard.init_app(app)
    portal.init_app(app)
    evidence.init_app(app)
    remote.init_app(app)
    home.init_app(app)
    admin_pages.init_app(app)
    scheduler.init_app(app)  # last: it may start the scheduler, which needs everything above
    if not app.testing:
        _freeze_startup_heap()
    return app


def _freeze_startup_heap() -> None:
    """Keep what start-up made (modules, classes, the calendar's tables) out of every later collection.

    Each full collection of Python's garbage collector walks every tracked object; a
    5,000-row push triggers several, and walking the start-up heap was a quarter of
    its time. The garbage of start-up is collected first, so none of it is kept.
    """
    gc.collect()
    gc.freeze()
