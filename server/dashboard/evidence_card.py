"""The ticket page's evidence card: the attachments and what the checklist still misses."""

from __future__ import annotations

from typing import Any

from flask import url_for

from complaints.evidence import EvidenceKind, missing_text
from server.services.evidence import checklist, missing_for, shown
from server.services.present import show
from server.storage.db import get_db
from server.storage.evidence import attachments_of


def evidence_section(row: Any, zone: str, lang: str, mask: bool) -> dict[str, Any]:
    """The ticket page's evidence card: attachments (names masked for head office) and what is missing."""
    with get_db().read() as session:
        rows = attachments_of(session, [row.sync_key])[row.sync_key]
    return {
        "files": [
            {
                "item": item,
                "at": show("received_at", item.at, zone, lang),
                "url": url_for("dashboard.evidence_file", attachment_id=item.id),
            }
            for item in shown(rows, lang, mask)
        ],  # fmt: skip
        "missing": missing_text(missing_for(row.category, rows, checklist()), lang),
        "kinds": [(kind.value, kind.label(lang)) for kind in EvidenceKind],
    }
