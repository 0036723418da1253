"""Who sees phone numbers in full, and everything else as that viewer sees it (DESIGN §8).

The one decision: an administrator sees numbers in full; every other viewer —
head office on the dashboard, through the API, in e-mail and in exports; a
department head reading a notice — sees them masked by `complaints.contacts`.

A branch reading its *own* tickets back is not a viewer but the owner of the
data: its sync pull, the tickets the Sync button fetches after a conflict
(``GET /api/tickets/<key>``), the merged workbook from ``/branch`` and the
ribbon's remote engine must return exactly what it typed, or its next push
would write the masks back over the real numbers. Branch tokens only ever
reach their own branch's tickets, so a branch always gets them in full.
A dossier (``GET /api/tickets/<key>/dossier.*``, the ribbon's Dossier button)
is a printed record, never read back: a branch gets it masked like any viewer.
"""

from __future__ import annotations

from typing import Any

from complaints.contacts import mask_phones
from server.auth import ADMIN, BRANCH

NOT_TEXT = frozenset({"sync_key", "ticket_key", "ticket_id", "group_id", "branch", "entity", "field"})
"""Keys of our own identifiers in API answers: never a customer's words, never masked."""
VALUE_KEYS = frozenset({"old", "new", "branch_value", "server_value"})
"""Keys whose value is the value of the field named by the same object's ``field``."""


def sees_phones(role: str, own_branch: bool = False) -> bool:
    """Whether a viewer of ``role`` sees phone numbers in full (``own_branch``: the tickets are its own)."""
    return role == ADMIN or (role == BRANCH and own_branch)


def masked(key: str, text: str) -> str:
    """``text`` of field ``key``, phone numbers masked (in a contact field bare local numbers too)."""
    return mask_phones(text, contact=key == "contact")


def masked_json(value: Any, key: str = "") -> Any:
    """An API answer with every phone number in its text masked, identifiers left as they are."""
    if isinstance(value, str):
        return value if key in NOT_TEXT else masked(key, value)
    if isinstance(value, list):
        return [masked_json(item, key) for item in value]
    if isinstance(value, dict):
        field = value.get("field") if isinstance(value.get("field"), str) else ""
        return {k: masked_json(v, field if k in VALUE_KEYS and field else k) for k, v in value.items()}
    return value
