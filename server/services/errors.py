"""What the services refuse, as domain errors: the doors decide how to say it (HTTP, a page, a workbook).

`server.errors` maps them to the API's JSON envelope; the dashboard and the portal
show ``message`` on the page.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A change the service refuses; ``code`` for machines, ``message`` for people, ``where`` the place."""

    def __init__(self, code: str, message: str, where: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.where = where or {}


class NotFound(ServiceError):
    """No such thing, or one the caller may not see (another branch's ticket is as missing as an unknown)."""


class Refused(ServiceError):
    """The thing's current state does not allow the change (already red, already resolved)."""


class Invalid(ServiceError):
    """The request itself is wrong (no reason given, a key used for another request)."""


class Malformed(ServiceError):
    """The request cannot be read at all (no idempotency key)."""
