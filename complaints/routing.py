"""Routing: which department investigates a complaint, and which investigator takes it.

A routing table maps each category to a department with a head and its
investigators (DESIGN §3.5). **Route** picks the investigator with the fewest
open tickets; ties go round-robin, remembered per department by a `RoundRobin`
cursor so that repeated ties rotate. Problems touching several departments,
and the category "other", go to the complaint management post (投诉管理岗),
which coordinates them. Deadlines are not computed here: `sla` derives them
from ``routed_at``.

The table is plain data, edited in the workbook's Routing sheet (one row per
category: category, department, head, head_email, investigators
comma-separated) and on the server.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

from complaints.enums import Category
from complaints.model import Ticket

logger = logging.getLogger(__name__)

COMPLAINT_POST = "投诉管理岗"
"""The complaint management post: coordinates cross-department problems."""

ROUTING_COLUMNS: tuple[str, ...] = ("category", "department", "head", "head_email", "investigators")
"""Keys of a Routing sheet row, as `RoutingRule.from_row` reads and `to_row` writes them."""

_SEPARATORS = re.compile(r"[,，、;；\n]")


class RoutingError(ValueError):
    """A ticket cannot be routed: no rule for its category, or nobody to investigate."""

    def __init__(self, message: str, category: Category | None = None, ticket_id: str = "") -> None:
        self.category = category
        self.ticket_id = ticket_id
        super().__init__(f"ticket {ticket_id}: {message}" if ticket_id else message)


def _name(category: Category) -> str:
    return f"{category.zh} / {category.en} ({category.value})"


def split_investigators(text: str) -> tuple[str, ...]:
    """Split a comma-separated cell (``,``, ``，`` or ``、``) into names, blanks and repeats dropped."""
    names: list[str] = []
    for part in _SEPARATORS.split(text or ""):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return tuple(names)


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """One row of the routing table: a category's department, its head and its investigators."""

    category: Category
    department: str
    head: str = ""
    head_email: str = ""
    investigators: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.department.strip():
            raise RoutingError(f"category {_name(self.category)} has no department", self.category)

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> RoutingRule:
        """Build a rule from a Routing sheet row (category as code or zh/en label)."""
        raw = row.get("category")
        if raw is None or not str(raw).strip():
            raise RoutingError("a routing row has no category")
        category = raw if isinstance(raw, Category) else Category.parse(str(raw))
        raw_names = row.get("investigators") or ""
        if not isinstance(raw_names, str) and isinstance(raw_names, Iterable):
            raw_names = ",".join(str(name) for name in raw_names)
        names = split_investigators(str(raw_names))
        return cls(
            category=category,
            department=str(row.get("department") or "").strip(),
            head=str(row.get("head") or "").strip(),
            head_email=str(row.get("head_email") or "").strip(),
            investigators=names,
        )

    def to_row(self) -> dict[str, str]:
        """The rule as a Routing sheet row; investigators joined with ", "."""
        return {
            "category": self.category.value,
            "department": self.department,
            "head": self.head,
            "head_email": self.head_email,
            "investigators": ", ".join(self.investigators),
        }


@dataclass(frozen=True)
class RoutingTable:
    """Rules by category, plus the complaint management post for cross-department problems.

    Without an explicit ``post`` the rule for `Category.OTHER` serves as the post,
    which is how a Routing sheet (one row per category) describes it.
    """

    rules: Mapping[Category, RoutingRule]
    post: RoutingRule | None = None

    def __post_init__(self) -> None:
        for category, rule in self.rules.items():
            if rule.category is not category:
                raise RoutingError(
                    f"rule for {_name(rule.category)} is filed under {_name(category)}", category
                )
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))

    @classmethod
    def from_rules(cls, rules: Iterable[RoutingRule], post: RoutingRule | None = None) -> RoutingTable:
        """Build a table from rules; a category given twice is an error."""
        by_category: dict[Category, RoutingRule] = {}
        for rule in rules:
            if rule.category in by_category:
                raise RoutingError(f"category {_name(rule.category)} has two routing rules", rule.category)
            by_category[rule.category] = rule
        return cls(by_category, post)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, object]]) -> RoutingTable:
        """Build a table from Routing sheet rows; blank rows are skipped."""
        rules = []
        for number, row in enumerate(rows, start=1):
            if not any(str(v or "").strip() for v in row.values()):
                continue
            try:
                rules.append(RoutingRule.from_row(row))
            except ValueError as exc:
                raise RoutingError(f"Routing row {number}: {exc}") from exc
        return cls.from_rules(rules)

    def to_rows(self) -> list[dict[str, str]]:
        """Rows for the Routing sheet, in the order of `Category`."""
        return [self.rules[c].to_row() for c in Category if c in self.rules]

    def with_rule(self, rule: RoutingRule) -> RoutingTable:
        """A copy of the table with ``rule`` added or replacing its category's rule."""
        return replace(self, rules={**self.rules, rule.category: rule})

    def rule_for(self, category: Category) -> RoutingRule:
        """The rule for ``category``; raise `RoutingError` naming it if there is none."""
        rule = self.rules.get(category)
        if rule is None:
            raise RoutingError(
                f"no routing rule for category {_name(category)}: add a row for it to the Routing sheet",
                category,
            )
        return rule

    def coordination_post(self) -> RoutingRule:
        """The complaint management post: the explicit ``post`` or else the "other" rule."""
        post = self.post or self.rules.get(Category.OTHER)
        if post is None:
            raise RoutingError(
                f"no complaint management post ({COMPLAINT_POST}): add a routing row for category "
                f"{_name(Category.OTHER)}",
                Category.OTHER,
            )
        return post


def head_rule(table: RoutingTable, ticket: Ticket) -> RoutingRule | None:
    """The rule naming the head responsible for ``ticket`` (escalations, notices, digests).

    A routed ticket belongs to its department's head (a rule of that department
    naming one, else its first rule); an unrouted one to the head its category
    would be routed to; otherwise to the complaint management post. None when
    the table has none of these.
    """
    department = ticket.department.strip()
    if department:
        rules = [rule for rule in table.rules.values() if rule.department.strip() == department]
        if rules:
            return next((rule for rule in rules if rule.head), rules[0])
    if ticket.category is not None and ticket.category in table.rules:
        return table.rules[ticket.category]
    try:
        return table.coordination_post()
    except RoutingError:
        return None


def _rule(category: Category, department: str, head: str, count: int = 3) -> RoutingRule:
    return RoutingRule(
        category=category,
        department=department,
        head=head,
        investigators=tuple(f"{department}-调查员{i}" for i in range(1, count + 1)),
    )


def default_routing_table() -> RoutingTable:
    """The standard's defaults, with placeholder heads and investigators to be replaced.

    Network fault → 网络部; tariff/billing dispute and product terms → 市场部;
    staff attitude and handling errors → 服务管理部 (each branch workbook carries
    its own table, so this is the branch's service management); other → 投诉管理岗.
    """
    network = _rule(Category.NETWORK_FAULT, "网络部", "网络部负责人")
    marketing = _rule(Category.BILLING_DISPUTE, "市场部", "市场部负责人")
    service = _rule(Category.STAFF_ATTITUDE, "服务管理部", "服务管理部负责人")
    post = _rule(Category.OTHER, COMPLAINT_POST, "投诉管理岗负责人", count=2)
    return RoutingTable.from_rules(
        [
            network,
            marketing,
            service,
            replace(service, category=Category.HANDLING_ERROR),
            replace(marketing, category=Category.PRODUCT_TERMS),
            post,
        ]
    )


@dataclass
class RoundRobin:
    """The last investigator picked in each department, so that ties rotate.

    Persist ``last`` (department → investigator) between routing sessions to keep
    the rotation going; an empty cursor starts with the first investigator.
    """

    last: dict[str, str] = field(default_factory=dict)

    def pick(self, department: str, order: Sequence[str], tied: Iterable[str]) -> str:
        """Pick among ``tied`` the first one after the last pick, cycling through ``order``."""
        candidates = set(tied)
        if not candidates:
            raise ValueError(f"no candidate investigator in {department}")
        previous = self.last.get(department)
        begin = order.index(previous) + 1 if previous in order else 0
        for i in range(len(order)):
            name = order[(begin + i) % len(order)]
            if name in candidates:
                self.last[department] = name
                return name
        raise ValueError(f"candidates {sorted(candidates)} are not investigators of {department}")


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a ticket goes: what Route writes into the ticket, plus the head for escalation notices."""

    ticket_id: str
    category: Category
    department: str
    investigator: str
    routed_at: datetime
    head: str = ""
    head_email: str = ""
    cross_department: bool = False

    def apply(self, ticket: Ticket) -> Ticket:
        """Fill ``ticket``'s department, investigator and routed_at; return it."""
        if ticket.ticket_id != self.ticket_id:
            raise ValueError(f"routing of ticket {self.ticket_id} applied to ticket {ticket.ticket_id}")
        ticket.department = self.department
        ticket.investigator = self.investigator
        ticket.routed_at = self.routed_at
        return ticket


def route(
    ticket: Ticket,
    table: RoutingTable,
    open_counts: Mapping[str, int],
    now: datetime,
    cursor: RoundRobin,
    departments: Iterable[str] = (),
) -> Routing:
    """Route ``ticket``: department by category, investigator with the fewest open tickets.

    ``open_counts`` maps investigator → open tickets (missing names count 0).
    ``departments`` names further departments the problem touches; if that makes
    more than one department, or the category is "other", the ticket goes to the
    complaint management post. ``cursor`` is updated with the pick. The ticket
    itself is not changed: call `Routing.apply`.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"routing time {now.isoformat()} has no time zone")
    category = ticket.category
    if category is None:
        raise RoutingError("no category: choose the category before routing", ticket_id=ticket.ticket_id)
    try:
        if category is Category.OTHER:
            rule, cross = table.coordination_post(), False
        else:
            rule = table.rule_for(category)
            touched = {rule.department.strip()} | {d.strip() for d in departments if d.strip()}
            cross = len(touched) > 1
            if cross:
                try:
                    rule = table.coordination_post()
                except RoutingError as exc:
                    raise RoutingError(
                        f"category {_name(category)} touches {', '.join(sorted(touched))}, but {exc}"
                    ) from exc
    except RoutingError as exc:
        raise RoutingError(str(exc), category, ticket.ticket_id) from exc
    if not rule.investigators:
        raise RoutingError(
            f"department {rule.department} (category {_name(rule.category)}) has no investigators: "
            "list them, comma-separated, in the Routing sheet",
            category,
            ticket.ticket_id,
        )
    fewest = min(open_counts.get(name, 0) for name in rule.investigators)
    tied = [name for name in rule.investigators if open_counts.get(name, 0) == fewest]
    investigator = cursor.pick(rule.department, rule.investigators, tied)
    logger.debug("routed %s to %s / %s", ticket.ticket_id, rule.department, investigator)
    return Routing(
        ticket_id=ticket.ticket_id,
        category=category,
        department=rule.department,
        investigator=investigator,
        routed_at=now,
        head=rule.head,
        head_email=rule.head_email,
        cross_department=cross,
    )


def route_many(
    tickets: Iterable[Ticket],
    table: RoutingTable,
    open_counts: Mapping[str, int],
    now: datetime,
    cursor: RoundRobin,
    departments: Mapping[str, Iterable[str]] | None = None,
) -> list[Routing]:
    """Route a batch in order, counting each pick as one more open ticket for the next.

    ``departments`` maps ticket id → further departments touched. All or nothing:
    if one ticket cannot be routed the error names it, and neither ``cursor`` nor
    ``open_counts`` has changed.
    """
    counts = dict(open_counts)
    working = RoundRobin(dict(cursor.last))
    results = []
    for ticket in tickets:
        extra = (departments or {}).get(ticket.ticket_id, ())
        result = route(ticket, table, counts, now, working, extra)
        counts[result.investigator] = counts.get(result.investigator, 0) + 1
        results.append(result)
    cursor.last.clear()
    cursor.last.update(working.last)
    return results
