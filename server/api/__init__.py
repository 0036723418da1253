"""The JSON API (flask-smorest): sync, tickets, conflicts, tokens, dossiers; see /api/openapi.json."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from server.api import dossiers, exports, guards, sync, tickets, tokens
from server.api.schemas import ErrorEnvelope


class _Api(Api):
    ERROR_SCHEMA = ErrorEnvelope  # the envelope of server/errors.py, not flask-smorest's own


def init_app(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "Complaint Desk")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = _Api(app)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("basic", {"type": "http", "scheme": "basic"})
    for module in (sync, tickets, tokens, exports, dossiers):
        api.register_blueprint(module.blp)
    guards.init_app(app)
    return api
