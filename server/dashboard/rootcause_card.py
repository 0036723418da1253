"""The ticket page's root-cause card: what it shows and what its form starts from."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from complaints.enums import Effect, Fishbone, MeasureStatus
from complaints.wire import COLUMNS
from server.services.present import masked, show
from server.services.rootcause import EDITABLE
from server.services.sync import offered_categories
from server.storage.rows import from_db

TEXTS = ("root_cause", "improvement", "measure_owner")
"""The card's free-text fields, masked as the fields card masks them."""


def rootcause_section(row: Any, zone: str, lang: str, mask: bool) -> dict[str, Any]:
    """The fishbone category, the cause, the measure and what came of it, for the card and its form."""
    fishbone: Fishbone | None = from_db("fishbone", row.fishbone)
    status: MeasureStatus | None = from_db("measure_status", row.measure_status)
    effect: Effect | None = from_db("effect", row.effect)
    done_at: datetime | None = row.measure_done_at
    return {
        "fishbone": "" if fishbone is None else fishbone.value,
        "fishbones": [(b.value, b.label(lang)) for b in offered_categories()],
        "status": "" if status is None else status.value,
        "statuses": [(s.value, s.label(lang)) for s in MeasureStatus],
        "texts": {key: masked(key, getattr(row, key) or "", mask) for key in TEXTS},
        "due": row.measure_due.isoformat() if row.measure_due else "",
        "done_at": "" if done_at is None else f"{done_at.astimezone(ZoneInfo(zone)):%Y-%m-%dT%H:%M}",
        "effect": "" if effect is None else effect.label(lang),
        "recurred_at": show("recurred_at", row.recurred_at, zone, lang),
        "labels": {key: COLUMNS[key].header(lang) for key in EDITABLE},
    }
