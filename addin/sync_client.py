"""The Sync button's client of ``POST /api/sync``: token, transport, bookkeeping that makes retries safe.

Protocol (server/services/sync.py): a push carries rows with their ``sync_key``, the
``base_version`` they were edited from and their ``fields``; the reply holds the
outcome of each row and a pull of everything changed after ``cursor``. Every
request carries an ``Idempotency-Key``: a retried request with the same key and
body is answered from the server's record instead of being applied twice.

The hidden ``_sync`` sheet keeps, as key/value rows, the cursor, a fingerprint
of each row as last synced (to find edited rows), task versions, the log
entries already sent, and — after a network failure — the unconfirmed request
(its key and body), which the next Sync sends again unchanged.

The token comes from the user's own config file or the environment, never
from the workbook.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from addin.messages import say
from addin.sheet import MacroError

TOKEN_ENV = "COMPLAINT_DESK_TOKEN"
BODY_CHUNK = 30_000
"""Characters of a pending request body per _sync cell (an Excel cell holds at most 32,767)."""
TIMEOUT = 120


def config_path(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> Path:
    """``%APPDATA%/ComplaintDesk/config.json`` on Windows, else ``~/.config/complaint-desk/config.json``."""
    if platform.startswith("win") and environ.get("APPDATA"):
        return Path(environ["APPDATA"]) / "ComplaintDesk" / "config.json"
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "complaint-desk" / "config.json"


def load_config(environ: Mapping[str, str] = os.environ, path: Path | None = None) -> dict[str, str]:
    """The user's config: ``{"token": ..., "server_url": ...}``; the environment's token wins."""
    path = path or config_path(environ)
    config: dict[str, str] = {}
    if path.exists():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
        except (OSError, ValueError) as exc:
            raise MacroError(say("sync_bad_config", path=path, error=exc)) from exc
        config = {k: str(v) for k, v in data.items() if isinstance(v, str | int)}
    if environ.get(TOKEN_ENV):
        config["token"] = environ[TOKEN_ENV]
    if not config.get("token", "").strip():
        raise MacroError(say("sync_no_token", path=path))
    return config


# --- transports --------------------------------------------------------------------------------


class Unreachable(Exception):
    """The request did not get an answer (connection refused, timeout, DNS)."""


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any
    """The JSON body, or the text of a body that is not JSON."""
    content: bytes = b""
    """The body as sent (a downloaded workbook)."""

    @property
    def detail(self) -> str:
        """The server's message from the error envelope, or the body."""
        if isinstance(self.data, dict):
            return str(self.data.get("message") or self.data.get("error") or self.data)
        return str(self.data)[:300]


class Transport(Protocol):
    where: str
    """The server as the user knows it (its URL), for messages."""
    token_hint: str
    """Where the user keeps the token, for the message when the server rejects it."""

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply: ...


class HttpTransport:
    """HTTPS to the server with the user's token (desktop Excel)."""

    def __init__(self, base_url: str, token: str, timeout: float = TIMEOUT) -> None:
        self.where = base_url.rstrip("/")
        self.token = token.strip()
        self.timeout = timeout
        self.token_hint = f"{config_path()} / {TOKEN_ENV}"

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        import requests

        try:
            response = requests.request(
                method,
                self.where + path,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {self.token}", **(headers or {})},
                timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise Unreachable(str(exc)) from exc
        try:
            data = response.json()
        except ValueError:
            data = response.text
        return Reply(response.status_code, data, response.content)


def http_transport(server_url: str, environ: Mapping[str, str] = os.environ) -> HttpTransport:
    """The desktop transport: the server URL of the workbook (or the config file) and the user's token."""
    config = load_config(environ)
    url = server_url.strip() or config.get("server_url", "").strip()
    if not url:
        raise MacroError(say("sync_no_url"))
    return HttpTransport(url, config["token"])


# --- bookkeeping -------------------------------------------------------------------------------


def fingerprint(fields: Mapping[str, Any]) -> str:
    """A short digest of a row's fields as pushed: a digest that changed since the last sync marks an edit."""
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Pending:
    """A request sent without a confirmed answer: sent again, unchanged, before anything new."""

    key: str
    body: str


class SyncState:
    """The ``_sync`` sheet's key/value rows (the dict given, updated in place)."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    @property
    def cursor(self) -> int:
        text = self.values.get("cursor", "").strip()
        return int(float(text)) if text else 0

    @cursor.setter
    def cursor(self, value: int) -> None:
        self.values["cursor"] = str(value)

    def ticket_print(self, key: str) -> str:
        return self.values.get(f"ticket:{key}", "")

    def set_ticket_print(self, key: str, value: str) -> None:
        self.values[f"ticket:{key}"] = value

    def task(self, key: str) -> tuple[int | None, str]:
        version, _, digest = self.values.get(f"task:{key}", "").partition(":")
        return (int(version) if version.isdigit() else None), digest

    def set_task(self, key: str, version: int, digest: str) -> None:
        self.values[f"task:{key}"] = f"{version}:{digest}"

    def log_sent(self, key: str) -> bool:
        return f"log:{key}" in self.values

    def mark_log(self, key: str) -> None:
        self.values[f"log:{key}"] = "1"

    @property
    def pending(self) -> Pending | None:
        key = self.values.get("pending_key", "").strip()
        if not key:
            return None
        parts = []
        n = 0
        while f"pending_body.{n}" in self.values:
            parts.append(self.values[f"pending_body.{n}"])
            n += 1
        return Pending(key, "".join(parts))

    @pending.setter
    def pending(self, pending: Pending | None) -> None:
        for name in [k for k in self.values if k == "pending_key" or k.startswith("pending_body.")]:
            del self.values[name]
        if pending is not None:
            self.values["pending_key"] = pending.key
            for n, start in enumerate(range(0, len(pending.body), BODY_CHUNK)):
                self.values[f"pending_body.{n}"] = pending.body[start : start + BODY_CHUNK]


class SyncFailure(Exception):
    """A round trip that did not complete; ``message`` says why and whether it is kept for the next Sync."""

    def __init__(self, message: Any, kept: bool) -> None:
        super().__init__(str(message))
        self.message = message
        self.kept = kept


def new_request(body: dict[str, Any]) -> Pending:
    """A request with a fresh Idempotency-Key; the body as exact JSON text, so a resend is byte-identical."""
    return Pending(uuid.uuid4().hex, json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def device_header(device: str) -> str:
    """The device name for the X-Device header (Latin-1 only): other characters are percent-encoded."""
    return quote(device, safe=" @._-:()/")[:200]


def send(transport: Transport, request: Pending, device: str) -> dict[str, Any]:
    """POST one sync request; `SyncFailure` unless the server answered 200.

    The request is kept for resending after a network failure or a server error
    (the server may or may not have applied it: the same key makes that safe);
    one the server refused (token, validation) was not applied and is dropped —
    its rows are still unsynced and go into the next request.
    """
    try:
        reply = transport.request(
            "POST",
            "/api/sync",
            json=json.loads(request.body),
            headers={"Idempotency-Key": request.key, "X-Device": device_header(device)},
        )
    except Unreachable as exc:
        raise SyncFailure(say("sync_unreachable", url=transport.where, error=exc), kept=True) from exc
    if reply.status == 200 and isinstance(reply.data, dict):
        return reply.data
    if reply.status in (401, 403):
        raise SyncFailure(
            say("sync_token_rejected", detail=reply.detail, path=transport.token_hint), kept=False
        )
    if reply.status >= 500:
        raise SyncFailure(say("sync_server_error", status=reply.status, detail=reply.detail), kept=True)
    raise SyncFailure(say("sync_refused", status=reply.status, detail=reply.detail), kept=False)
