"""Suite-wide fixtures."""

from collections.abc import Iterator

import pytest

from server.storage.db import dispose_all


@pytest.fixture(autouse=True)
def _close_database_connections() -> Iterator[None]:
    """Close every pooled database connection a test opened, so none is left for the garbage collector."""
    yield
    dispose_all()
