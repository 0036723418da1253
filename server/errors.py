"""One JSON error envelope for every API error: ``{"error": code, "message": text, "where": {...}}``."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException


class ApiError(Exception):
    """An error the API reports to its caller; ``where`` names the place (field, row, sheet)."""

    def __init__(self, status: int, code: str, message: str, where: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.where = where or {}


def envelope(status: int, code: str, message: str, where: dict[str, Any] | None = None) -> Any:
    response = jsonify({"error": code, "message": message, "where": where or {}})
    response.status_code = status
    return response


def _wants_json() -> bool:
    return (
        request.path.startswith(("/api/", "/xlwings/")) or request.accept_mimetypes.best == "application/json"
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return envelope(exc.status, exc.code, exc.message, exc.where)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        if not _wants_json():
            return exc
        where: dict[str, Any] = {}
        data = getattr(exc, "data", None)  # webargs puts validation messages here
        if isinstance(data, dict) and "messages" in data:
            where = data["messages"]
        code = (exc.name or "error").lower().replace(" ", "_")
        return envelope(exc.code or 500, code, exc.description or exc.name, where)
