"""Per-branch routing on the server: departments, their heads (named, e-mailed) and the branch coordinator.

A branch without stored rules uses `complaints.routing.default_routing_table()`;
the first edit stores the defaults for that branch and then changes one row.
Notices go to the head of the ticket's department (``head_email``, found by
`complaints.routing.head_rule`) and the daily branch digest to the coordinator
(``flask --app server routing …``); a ticket on the emergency path of a major case
(`complaints.major`) is told to the branch's senior-management, legal and
public-relations contacts (``routing emergency``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, select
from sqlalchemy.orm import Session

from complaints.routing import RoutingRule, RoutingTable, default_routing_table
from server.storage.models import BranchContactRow, EmergencyContactRow, RoutingRuleRow

LANGUAGES = ("zh", "en")
"""Languages of a branch's notices."""
EMERGENCY_ROLES: dict[str, tuple[str, str]] = {
    "senior": ("高层管理", "senior management"),
    "legal": ("法务", "legal"),
    "pr": ("公关", "public relations"),
}
"""Who a branch tells when a ticket takes the emergency path (standard §2.3: 高层介入，联合法务、公关)."""


def routing_table(session: Session, branch_id: int) -> RoutingTable:
    """The branch's routing table: its stored rules, or the defaults when it has none."""
    rows = session.execute(_RULES, {"branch": branch_id}).mappings().all()
    if not rows:
        return default_routing_table()
    return RoutingTable.from_rows(dict(r) for r in rows)


_rules = RoutingRuleRow.__table__.c
_RULES = select(
    _rules.category, _rules.department, _rules.head, _rules.head_email, _rules.investigators
).where(_rules.branch_id == bindparam("branch"))
"""A branch's stored rules as plain rows (read at every scan of a branch with due tickets)."""


def set_rule(session: Session, branch_id: int, rule: RoutingRule) -> None:
    """Store ``rule`` for the branch (storing the defaults first if the branch had no rules)."""
    existing = {
        r.category: r
        for r in session.scalars(select(RoutingRuleRow).where(RoutingRuleRow.branch_id == branch_id))
    }
    if not existing:
        for default in default_routing_table().rules.values():
            row = RoutingRuleRow(branch_id=branch_id, category=default.category.value)
            _fill(row, default)
            session.add(row)
            existing[row.category] = row
    row = existing.get(rule.category.value)
    if row is None:
        row = RoutingRuleRow(branch_id=branch_id, category=rule.category.value)
        session.add(row)
    _fill(row, rule)
    session.flush()


def _fill(row: RoutingRuleRow, rule: RoutingRule) -> None:
    values = rule.to_row()
    row.department = values["department"]
    row.head = values["head"]
    row.head_email = values["head_email"]
    row.investigators = values["investigators"]


def branch_contact(session: Session, branch_id: int) -> BranchContactRow:
    """The branch coordinator (an empty one, language zh, if none is stored)."""
    row = session.get(BranchContactRow, branch_id)
    return row or BranchContactRow(branch_id=branch_id, coordinator="", email="", language="zh")


def notice_language(session: Session, branch_id: int) -> str:
    """The language of the branch's notices, as `branch_contact` has it (a plain read: the scan's notices)."""
    return session.scalar(_LANGUAGE, {"branch": branch_id}) or "zh"


_coordinators = BranchContactRow.__table__.c
_LANGUAGE = select(_coordinators.language).where(_coordinators.branch_id == bindparam("branch"))


def set_coordinator(
    session: Session, branch_id: int, name: str | None, email: str | None, language: str | None
) -> BranchContactRow:
    """Change the branch coordinator's name, e-mail address or notice language (None: unchanged)."""
    row = session.get(BranchContactRow, branch_id)
    if row is None:
        row = BranchContactRow(branch_id=branch_id, coordinator="", email="", language="zh")
        session.add(row)
    if name is not None:
        row.coordinator = name
    if email is not None:
        row.email = email
    if language is not None:
        row.language = language
    session.flush()
    return row


def emergency_contacts(session: Session, branch_id: int) -> dict[str, Row[Any]]:
    """The branch's emergency contacts by role (role, name, email); a role nobody was named for is absent."""
    return {r.role: r for r in session.execute(_EMERGENCY, {"branch": branch_id})}


_emergency = EmergencyContactRow.__table__.c
_EMERGENCY = select(_emergency.role, _emergency.name, _emergency.email).where(
    _emergency.branch_id == bindparam("branch")
)


def set_emergency_contact(
    session: Session, branch_id: int, role: str, name: str | None, email: str | None
) -> EmergencyContactRow:
    """Name the branch's senior-management, legal or public-relations contact (None: unchanged)."""
    if role not in EMERGENCY_ROLES:
        raise ValueError(f"{role!r} is not an emergency role; use one of {', '.join(EMERGENCY_ROLES)}")
    row = session.get(EmergencyContactRow, (branch_id, role))
    if row is None:
        row = EmergencyContactRow(branch_id=branch_id, role=role, name="", email="")
        session.add(row)
    if name is not None:
        row.name = name
    if email is not None:
        row.email = email
    session.flush()
    return row
