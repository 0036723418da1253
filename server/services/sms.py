"""The SMS gateway adapter: an outbox row sent as one JSON POST to ``SMS_GATEWAY_URL``.

The request is ``{"id": …, "to": …, "text": …, "sender": …}`` with
``Authorization: Bearer SMS_GATEWAY_TOKEN`` when a token is set; any 2xx answer
means the gateway took the message. ``id`` is derived from the outbox row's
dedupe key, so a gateway can recognise a message resent after a crash. A 4xx
answer (but 429) refuses this one message for good; a 429, a 5xx or no answer
means the gateway is busy or down and every claimed message waits.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from server.storage.models import OutboxRow

FAILED, PENDING, DOWN = "failed", "pending", "down"


class SmsGatewaySender:
    """Sends outbox rows of channel ``sms`` to an HTTP gateway (settings ``SMS_*``)."""

    channel = "sms"

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.url = str(config.get("SMS_GATEWAY_URL") or "")
        self.token = str(config.get("SMS_GATEWAY_TOKEN") or "")
        self.sender = str(config.get("SMS_SENDER") or "")
        self.timeout = float(config.get("SMS_TIMEOUT") or 10)

    @property
    def configured(self) -> bool:
        return bool(self.url)

    unconfigured = "SMS_GATEWAY_URL is not set: SMS messages wait in the outbox"

    def check(self) -> None:
        """Refuse a gateway address that cannot work, naming the setting."""
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"SMS_GATEWAY_URL must be an http:// or https:// address, not {self.url!r}")

    def __enter__(self) -> SmsGatewaySender:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send(self, row: OutboxRow, now: datetime) -> None:
        payload = {
            "id": hashlib.sha256(row.dedupe_key.encode()).hexdigest()[:32],
            "to": row.to_addr,
            "text": row.body,
            "sender": self.sender,
        }
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url, data=json.dumps(payload, ensure_ascii=False).encode(), headers=headers, method="POST"
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 (a configured URL)
            answer.read()

    def verdict(self, exc: Exception) -> tuple[str, str]:
        """What a failed send means: (FAILED, why) for good, (PENDING, why) later, (DOWN, why) all wait."""
        if isinstance(exc, urllib.error.HTTPError):
            why = f"SMS gateway {exc.code}: {exc.reason}"
            if 400 <= exc.code < 500 and exc.code != 429:
                return FAILED, f"refused: {why}"
            return DOWN, why
        if isinstance(exc, OSError):
            return DOWN, f"{type(exc).__name__}: {exc}"
        return FAILED, f"cannot be sent: {type(exc).__name__}: {exc}"
