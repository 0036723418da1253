"""The tickets the group-incident and repeat-complaint rules must judge together, read from a branch.

`complaints.levels.assess` needs every ticket of a group incident (same category
and place within a window) or of a repeat complainant (same contact: unresolved
at once, or the same problem again after a resolution) to judge them. The
candidates are found with coarse keys that never separate two tickets the rules
would put together (places: the estate's name, letters and digits only; contacts: the
last digits), so each true group is complete in what `assess` sees. Tickets
being changed in the caller's transaction (``pending``) are judged as they will
be stored, not as they were.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Integer, and_, func, or_, select
from sqlalchemy.orm import Session

from complaints.groups import PLACE_SUFFIXES, normalise_place
from complaints.levels import Assessment, Basis, LevelRules, assess, own_bases
from complaints.model import Ticket
from server.storage.models import tickets_table
from server.storage.rows import LIGHT_READ, chunks, light_ticket

_t = tickets_table.c
_CONTACT_SUFFIX = 8
_NOT_DIGITS = re.compile(r"\D")


@lru_cache(maxsize=65_536)
def place_key(place: str | None, suffixes: tuple[str, ...] = PLACE_SUFFIXES) -> str:
    """The estate of a place (`complaints.groups.normalise_place`), letters and digits only."""
    return "".join(ch for ch in normalise_place(place or "", suffixes) if ch.isalnum())


def contact_key(contact: str | None) -> str:
    text = contact or ""
    digits = text if text.isdecimal() else _NOT_DIGITS.sub("", text)  # most contacts: digits alone
    return digits[-_CONTACT_SUFFIX:] if digits else text.strip().casefold()


def _period(moment: Any, days: int, dialect: str) -> Any:
    """The number of the ``days``-long period since the epoch that a stored UTC time falls in, in SQL."""
    if dialect == "postgresql":
        return func.floor(func.extract("epoch", moment) / (days * 86_400))
    return func.cast(func.julianday(moment) / days, Integer)


@dataclass
class GroupFindings:
    """GROUP and REPEAT bases (and group ids) found for some tickets of one branch."""

    bases: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    group_ids: dict[str, str] = field(default_factory=dict)

    def add(self, tickets: list[Ticket], basis: str, rules: LevelRules) -> None:
        for key, assessment in assess(tickets, rules).items():
            if basis in assessment.bases:
                self.bases[key].add(basis)
                if basis == Basis.GROUP:
                    self.group_ids[key] = assessment.group_id

    def for_ticket(self, ticket: Ticket) -> Assessment:
        bases = own_bases(ticket) | self.bases.get(ticket.sync_key, set())
        return Assessment(frozenset(bases), self.group_ids.get(ticket.sync_key, ""))


def _load(
    session: Session,
    condition: Any,
    pending: Mapping[str, Ticket],
    keep: Callable[[Any], bool] | None = None,
) -> list[Ticket]:
    """The live stored tickets meeting ``condition`` and ``keep`` (a test of the row), as in ``pending``."""
    rows = session.execute(select(*LIGHT_READ).where(_t.cancelled_at.is_(None), condition)).all()
    found = {r.sync_key: light_ticket(r) for r in rows if keep is None or keep(r)}
    return [
        pending.get(key, ticket) for key, ticket in found.items() if key not in pending or _live(pending[key])
    ]


def _at_places(
    session: Session, branch_id: int, pairs: list[tuple[str, str]], pending: Mapping[str, Ticket]
) -> list[Ticket]:
    """The branch's live tickets of the exact (category, place) ``pairs``.

    Asked as two lists, not as a list of pairs: SQLite walks the (branch, category,
    place) index for the lists, and the whole branch for the pairs (2–3× the time).
    """
    wanted = set(pairs)
    condition = and_(
        _t.branch_id == branch_id,
        _t.category.in_(sorted({c for c, _ in pairs})),
        _t.place.in_(sorted({p for _, p in pairs})),
    )
    return _load(session, condition, pending, lambda r: (r.category, r.place) in wanted)


def _by_keys(session: Session, branch_id: int, keys: list[str]) -> list[Ticket]:
    """The branch's live tickets of ``keys``, found by their primary key.

    ``branch_id + 0``: the branch is checked, not searched by: with the branch's
    index SQLite would read every ticket of the branch to find a few hundred.
    """
    return _load(session, and_(_t.branch_id + 0 == branch_id, _t.sync_key.in_(keys)), {})


def _live(ticket: Ticket) -> bool:
    return ticket.cancelled_at is None


def find_groups(
    session: Session,
    branch_id: int,
    rules: LevelRules,
    changed: list[Ticket] | None,
    pending: Mapping[str, Ticket] | None = None,
) -> GroupFindings:
    """Group incidents and repeat complaints in the whole branch (``changed=None``) or around ``changed``.

    ``pending`` maps sync keys to tickets as this transaction will store them (new
    ones included); they replace what is stored.
    """
    pending = pending or {}
    findings = GroupFindings()
    if changed is None:
        _walk_incidents(session, branch_id, rules, findings)
    else:
        _incidents_around(session, branch_id, rules, changed, pending, findings)
    _repeats(session, branch_id, rules, changed, pending, findings)
    return findings


def _incidents_around(
    session: Session,
    branch_id: int,
    rules: LevelRules,
    changed: list[Ticket],
    pending: Mapping[str, Ticket],
    findings: GroupFindings,
) -> None:
    """Every stored ticket written like a changed ticket's category and place, with the pending ones."""
    wanted = {
        (t.category.value, place_key(t.place, rules.place_suffixes))
        for t in changed
        if t.category and place_key(t.place, rules.place_suffixes)
    }
    if not wanted:
        return
    categories = sorted({category for category, _ in wanted})
    live = (_t.branch_id == branch_id, _t.cancelled_at.is_(None), _t.category.in_(categories))
    pairs = [(c, p) for c, p in session.execute(select(_t.category, _t.place).where(*live).distinct())]
    pairs = [(c, p) for c, p in pairs if (c, place_key(p, rules.place_suffixes)) in wanted]
    members: dict[tuple[str, str], dict[str, Ticket]] = defaultdict(dict)
    for chunk in chunks(pairs):
        for ticket in _at_places(session, branch_id, chunk, pending):
            coarse = (ticket.category.value, place_key(ticket.place, rules.place_suffixes))  # type: ignore[union-attr]
            members[coarse][ticket.sync_key] = ticket
    for ticket in pending.values():
        coarse = (
            (ticket.category.value, place_key(ticket.place, rules.place_suffixes))
            if ticket.category
            else None
        )
        if coarse in wanted and _live(ticket):
            members[coarse][ticket.sync_key] = ticket  # type: ignore[index]
    for group in members.values():
        if len(group) >= rules.group_size:
            findings.add(list(group.values()), Basis.GROUP, rules)


def _walk_incidents(session: Session, branch_id: int, rules: LevelRules, findings: GroupFindings) -> None:
    """Every group incident of the branch, counting first which places can hold one."""
    live = (_t.branch_id == branch_id, _t.cancelled_at.is_(None), _t.category.is_not(None))
    # a group needs group_size tickets within group_days: within two neighbouring periods that long
    period = _period(_t.received_at, rules.group_days, session.get_bind().dialect.name)
    query = select(_t.category, _t.place, period, func.count()).where(*live)
    counts: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    places: dict[tuple[str, str], set[str]] = defaultdict(set)
    for category, place, when, n in session.execute(query.group_by(_t.category, _t.place, period)):
        coarse = (category, place_key(place, rules.place_suffixes))
        if coarse[1]:
            counts[coarse][int(when)] += n
            places[coarse].add(place)
    candidates = [
        coarse
        for coarse, by_period in counts.items()
        if any(n + by_period.get(p + 1, 0) >= rules.group_size for p, n in by_period.items())
    ]
    batch: list[tuple[str, str]] = []
    for i, coarse in enumerate(candidates):
        batch += [(coarse[0], place) for place in sorted(places[coarse])]  # a coarse group is never split
        if len(batch) >= 500 or i == len(candidates) - 1:
            tickets = _at_places(session, branch_id, batch, {})
            findings.add(tickets, Basis.GROUP, rules)
            batch = []


def _repeats(
    session: Session,
    branch_id: int,
    rules: LevelRules,
    changed: list[Ticket] | None,
    pending: Mapping[str, Ticket],
    findings: GroupFindings,
) -> None:
    """Repeat complaints: a customer's tickets open at once, or a problem raised again after its resolution.

    Around ``changed``, the tickets that can pair with one of them are the unresolved
    ones and those resolved since the earliest changed receipt less the window
    (`complaints.levels.complains_again`); the whole branch otherwise.
    """

    def has_contact(t: Ticket) -> bool:
        return t.cancelled_at is None and bool(t.contact.strip())

    wanted = {contact_key(t.contact) for t in changed or () if has_contact(t)}
    if changed is not None and not wanted:
        return
    condition: Any = _t.contact != ""
    if changed is not None:
        since = min(t.received_at for t in changed if has_contact(t)) - timedelta(days=rules.repeat_days)
        condition = and_(condition, or_(_t.resolved_at.is_(None), _t.resolved_at >= since))
    # the coarse groups first, from two columns; only customers with two tickets or more are loaded
    members: dict[str, set[str]] = defaultdict(set)
    query = select(_t.sync_key, _t.contact).where(
        _t.branch_id == branch_id, _t.cancelled_at.is_(None), condition
    )
    for key, contact in session.execute(query).all():
        coarse = contact_key(contact)
        if key not in pending and (contact or "").strip() and (changed is None or coarse in wanted):
            members[coarse].add(key)
    for key, ticket in pending.items():
        coarse = contact_key(ticket.contact)
        if has_contact(ticket) and (changed is None or coarse in wanted):
            members[coarse].add(key)
    keys = sorted(k for group in members.values() if len(group) >= 2 for k in group)
    stored = [k for k in keys if k not in pending]
    tickets = [t for chunk in chunks(stored) for t in _by_keys(session, branch_id, chunk)]
    tickets += [pending[k] for k in keys if k in pending]
    findings.add(tickets, Basis.REPEAT, rules)
