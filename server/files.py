"""Files the service writes to disk hold customer data: only the service's own user may read them (0600)."""

from __future__ import annotations

import os
from typing import BinaryIO

PRIVATE = 0o600


def private_open(path: str | os.PathLike[str]) -> BinaryIO:
    """Open ``path`` for writing, created (or truncated) readable and writable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
    os.fchmod(fd, PRIVATE)  # an existing file keeps its mode through O_CREAT: set it here
    return os.fdopen(fd, "wb")


def write_private(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only."""
    with private_open(path) as target:
        target.write(data)
