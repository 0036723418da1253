"""The hardening battery (issue #8): hostile input, load and faults."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from server import create_app
from server.storage.db import get_db
from tests.battery.hostile_files import NOW


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """A migrated app on a SQLite file with its clock pinned, for uploads and exports (modules that
    need both databases import tests/server/api/conftest.py's ``app`` instead)."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'battery.db'}",
            "CLOCK": lambda: NOW,
            "BRANCH_DOWNLOADS": str(tmp_path / "downloads"),
        }
    )
    with app.app_context():
        get_db().upgrade()
    yield app
    with app.app_context():
        get_db().dispose()
