"""Who sees phone numbers in full: administrators, and a branch reading back its own tickets."""

from __future__ import annotations

import pytest

from server.auth import ADMIN, BRANCH, HEAD_OFFICE
from server.privacy import masked_json, sees_phones


@pytest.mark.parametrize(
    ("role", "own_branch", "full"),
    [(ADMIN, False, True), (HEAD_OFFICE, False, False), (BRANCH, True, True), (BRANCH, False, False)],
)
def test_only_an_administrator_or_the_branch_that_owns_the_tickets_sees_numbers_in_full(
    role: str, own_branch: bool, full: bool
) -> None:
    assert sees_phones(role, own_branch) is full


def test_an_api_answer_is_masked_in_its_text_and_history_values_but_not_in_identifiers() -> None:
    answer = {
        "ticket": {"ticket_id": "SZ01-13800138000", "sync_key": "0755832012340755", "contact": "83201234"},
        "history": [
            {"field": "contact", "old": "83201234", "new": "13800138000", "by": "坐席 13912345678"},
            {"field": "*", "new": {"contact": "8320 1234", "description": "回电 0755-83201234"}},
        ],
        "total": 13800138000,
    }
    assert masked_json(answer) == {
        "ticket": {"ticket_id": "SZ01-13800138000", "sync_key": "0755832012340755", "contact": "****1234"},
        "history": [
            {"field": "contact", "old": "****1234", "new": "138****8000", "by": "坐席 139****5678"},
            {"field": "*", "new": {"contact": "**** 1234", "description": "回电 0755-****1234"}},
        ],
        "total": 13800138000,
    }
