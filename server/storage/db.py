"""The database: engine and sessions, SQLite tuned for several writers, Alembic migrations.

SQLite: WAL so readers never block the writer, a busy timeout, and ``BEGIN
IMMEDIATE`` for write transactions — with a plain ``BEGIN`` two writers that
both read first deadlock and one gets "database is locked". PostgreSQL (set
``FLASK_DATABASE_URL``) is the scale-out path.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_open: weakref.WeakSet[Database] = weakref.WeakSet()


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"future": True}
        if self.is_sqlite:
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
        else:
            options.update(pool_pre_ping=True, pool_size=5, max_overflow=10)
        self.engine: Engine = create_engine(url, **options)
        if self.is_sqlite:
            _tune_sqlite(self.engine)
        _open.add(self)
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self.engine.execution_options(immediate=True), expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading."""
        with self._reader() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any error."""
        with self._writer() as session, session.begin():
            yield session

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema up to ``revision`` with Alembic; at the head, fill the figures rows missing and
        roll their days up (no reader then waits for the first count of every day).

        The figures rows are computed by today's code (`server.storage.figures`), which
        fits only the head's tables: a database coming from before migration 0006 gets
        them here, not in the migration.
        """
        command.upgrade(alembic_config(self.url), revision)
        if revision == "head":
            from server.storage.figures import fill_figure_days, fill_figure_rows  # they need the models

            with self.engine.begin() as connection:
                fill_figure_rows(connection, os.environ.get("COMPLAINTS_CALENDAR"))
            fill_figure_days(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def dispose_all() -> None:
    """Close the pooled connections of every database opened in this process (tests: after each test)."""
    for database in list(_open):
        database.dispose()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def get_db() -> Database:
    return current_app.extensions["complaint_desk_db"]


def init_app(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.extensions["complaint_desk_db"] = Database(url)
