"""The column mapping each branch confirmed for its own ledger (`complaints.ledger.ColumnMapping`)."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.orm import Session

from complaints.ledger import ColumnMapping
from server.storage.models import LedgerMappingRow


def saved_mapping(session: Session, branch_id: int) -> ColumnMapping | None:
    """The branch's confirmed mapping, if it has one."""
    row = session.get(LedgerMappingRow, branch_id)
    return None if row is None else ColumnMapping.from_json(json.loads(row.mapping))


def save_mapping(session: Session, branch_id: int, mapping: ColumnMapping, at: datetime, by: str) -> None:
    """Keep ``mapping`` as the branch's confirmed one (replacing the one before)."""
    text = json.dumps(mapping.to_json(), ensure_ascii=False, sort_keys=True)
    row = session.get(LedgerMappingRow, branch_id)
    if row is None:
        session.add(LedgerMappingRow(branch_id=branch_id, mapping=text, confirmed_at=at, confirmed_by=by))
    else:
        row.mapping, row.confirmed_at, row.confirmed_by = text, at, by
