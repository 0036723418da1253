"""One JSON error envelope for every API error: ``{"error": code, "message": text, "where": {...}}``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from server.services.errors import Invalid, Malformed, NotFound, Refused, ServiceError

logger = logging.getLogger(__name__)
RETRY_AFTER = 5
"""Seconds a client should wait before resending after the database was unreachable."""
DATABASE_UNAVAILABLE = (
    "the database is unavailable or restarting; send the request again in a few seconds — with the same "
    "Idempotency-Key it is applied once at most / "
    "数据库暂不可用或正在重启，请几秒后重新发送本次请求（使用同一幂等键不会重复保存）"
)


class ApiError(Exception):
    """An error the API reports to its caller; ``where`` names the place (field, row, sheet)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        where: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.where = where or {}
        self.headers = headers or {}


def envelope(status: int, code: str, message: str, where: dict[str, Any] | None = None) -> Any:
    response = jsonify({"error": code, "message": message, "where": where or {}})
    response.status_code = status
    return response


def _places(messages: Any, path: str = "") -> Any:
    """(place, problem) pairs of webargs' nested messages: ``{"json": {"log": {"0": {"at": [...]}}}}``."""
    if isinstance(messages, dict):
        for key, inner in messages.items():
            yield from _places(inner, path if key == "_schema" else f"{path}.{key}" if path else str(key))
    else:
        yield path, "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)


def _invalid(messages: dict[str, Any]) -> str:
    """A message that names the bad fields, so the caller need not dig in ``where``."""
    places = list(_places(messages))
    shown = "; ".join(f"{place}: {problem}" for place, problem in places[:3])
    more = f" (+{len(places) - 3})" if len(places) > 3 else ""
    names = "、".join(place for place, _ in places[:3])
    return f"invalid request: {shown}{more} / 请求无效，请检查：{names}{more}"


def _wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/xlwings/")) or request.accept_mimetypes.best == "application/json"
    )


STATUS: dict[type[ServiceError], int] = {NotFound: 404, Refused: 409, Invalid: 422, Malformed: 400}
"""The HTTP status of each domain error: the one place where the services' refusals become HTTP."""


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        response = envelope(exc.status, exc.code, exc.message, exc.where)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(ServiceError)
    def _service_error(exc: ServiceError) -> Any:
        return envelope(STATUS[type(exc)], exc.code, exc.message, exc.where)

    @app.errorhandler(OperationalError)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(DBAPIError)
    def _database_unavailable(exc: Exception) -> Any:
        """A lost or refused database connection (a restart, a failover, a busy SQLite file): 503, retry.

        The transaction was rolled back, so the request may be resent as it was; the pool's pre-ping
        replaces dead connections at the next checkout. Other database errors stay 500.
        """
        if isinstance(exc, DBAPIError) and not isinstance(exc, OperationalError):
            if not exc.connection_invalidated:
                raise exc
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, cause)
        if not _wants_json():
            return ServiceUnavailable(DATABASE_UNAVAILABLE, retry_after=RETRY_AFTER)
        response = envelope(503, "database_unavailable", DATABASE_UNAVAILABLE, {"retry_after": RETRY_AFTER})
        response.headers["Retry-After"] = str(RETRY_AFTER)
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if not _wants_json():
            return exc
        where: dict[str, Any] = {}
        message = exc.description or exc.name
        data = getattr(exc, "data", None)  # webargs puts validation messages here
        if isinstance(data, dict) and isinstance(data.get("messages"), dict) and data["messages"]:
            where = data["messages"]
            message = _invalid(where)
        code = (exc.name or "error").lower().replace(" ", "_")
        return envelope(exc.code or 500, code, message, where)
