"""Grades and warning levels: remedy templates, level rules, manual escalation and de-escalation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from complaints.appeals import on_appeal
from complaints.contacts import customer_key
from complaints.enums import Grade, Level, LogKind
from complaints.groups import PLACE_SUFFIXES, normalise_place
from complaints.model import Escalation, LogEntry, Ticket, revised


@dataclass(frozen=True, slots=True)
class Remedy:
    zh: str
    en: str


REMEDIES: dict[Grade, Remedy] = {
    Grade.MINOR: Remedy(
        "快速纠错 + 适当补偿（如退费、赠送小额流量包）",
        "Quick correction + goodwill compensation (refund, small data pack)",
    ),
    Grade.MODERATE: Remedy(
        "道歉 + 实质性补偿 + 流程改进承诺（如费用减免、优先升级）",
        "Apology + substantive compensation + process-improvement commitment (fee waiver, priority upgrade)",
    ),
    Grade.MAJOR: Remedy(
        "启动应急预案，高层介入，法务与公关协同",
        "Emergency plan with senior management involved, together with legal and PR",
    ),
}


class LevelError(ValueError):
    """A level change the rules do not allow (no reason, nothing to escalate to)."""


class Basis:
    """Why a rule raised a ticket's level; kept in ``Ticket.level_basis`` so a rule fires once."""

    REPEAT = "REPEAT"
    GROUP = "GROUP"
    MEDIA = "MEDIA"
    REGULATOR = "REGULATOR"


BASIS_LEVEL = {
    Basis.REPEAT: Level.YELLOW,
    Basis.GROUP: Level.YELLOW,
    Basis.MEDIA: Level.RED,
    Basis.REGULATOR: Level.RED,
}
BASIS_REASON = {
    Basis.REPEAT: "同一客户多次投诉未解决 / repeat complaint, unresolved",
    Basis.GROUP: "群体性投诉 / group incident",
    Basis.MEDIA: "媒体曝光 / media exposure",
    Basis.REGULATOR: "监管介入 / regulator involved",
}
DISSATISFIED_REASON = "回访不满意 / dissatisfied at revisit"
"""Why a dissatisfied revisit escalates (`lifecycle.record_revisit`); the customer's words follow."""
_RULE_REASONS = (*BASIS_REASON.values(), DISSATISFIED_REASON)


def reason_in(text: str, lang: str) -> str:
    """A reason the rules wrote in both languages ("群体性投诉 / group incident; …") in ``lang`` only.

    The workbook shows one language; the database and the log keep both. Any
    other text (a coordinator's own reason) is returned as it is.
    """
    parts = text.split("; ")
    shown = []
    for part in parts:
        rule = next((r for r in _RULE_REASONS if part == r or part.startswith(f"{r}: ")), None)
        if rule is None:
            return text
        zh, en = rule.split(" / ")
        rest = part[len(rule) :].removeprefix(": ")
        label = zh if lang == "zh" else en
        shown.append(f"{label}：{rest}" if rest and lang == "zh" else f"{label}: {rest}" if rest else label)
    return ("；" if lang == "zh" else "; ").join(shown)


def _level_changes(
    ticket: Ticket, to: Level, reason: str, by: str, at: datetime, head: str, kind: LogKind
) -> tuple[dict[str, object], Escalation, LogEntry]:
    """The fields, the record and the log entry of a level change (the ticket itself is left alone)."""
    if not reason.strip():
        raise LevelError(f"{ticket.ticket_id}: a reason is required to change the warning level")
    record = Escalation(ticket.ticket_id, at, ticket.level, to, reason.strip(), by, head)
    changes: dict[str, object] = {"level": to, "level_reason": reason.strip()}
    if to is not Level.BLUE and to.rank > ticket.level.rank:
        changes.update(escalated_at=at, escalated_to=head or ticket.escalated_to)
    text = f"{ticket.level.zh}→{to.zh} ({ticket.level.value}→{to.value}): {reason.strip()}"
    if head:
        text += f" → {head}"
    return changes, record, LogEntry(ticket.ticket_id, at, kind, text, author=by)


def _change_level(
    ticket: Ticket, to: Level, reason: str, by: str, at: datetime, head: str, kind: LogKind
) -> tuple[Ticket, Escalation, LogEntry]:
    changes, record, entry = _level_changes(ticket, to, reason, by, at, head, kind)
    return (
        revised(ticket, **changes),
        record,
        entry,
    )


def escalate(
    ticket: Ticket, reason: str, by: str, at: datetime, head: str = ""
) -> tuple[Ticket, Escalation, LogEntry]:
    """Raise the warning level one step (blue → yellow → red), with a reason and the head told."""
    if ticket.level is Level.RED:
        raise LevelError(f"{ticket.ticket_id}: already red, cannot escalate further")
    return _change_level(ticket, list(Level)[ticket.level.rank + 1], reason, by, at, head, LogKind.ESCALATION)


def deescalate(
    ticket: Ticket, reason: str, by: str, at: datetime, head: str = ""
) -> tuple[Ticket, Escalation, LogEntry]:
    """Lower the warning level one step; never without a reason (audited in the log)."""
    if not reason.strip():
        raise LevelError(f"{ticket.ticket_id}: de-escalation needs a reason")
    if ticket.level is Level.BLUE:
        raise LevelError(f"{ticket.ticket_id}: already blue, cannot de-escalate further")
    return _change_level(
        ticket, list(Level)[ticket.level.rank - 1], reason, by, at, head, LogKind.DEESCALATION
    )


@dataclass(frozen=True)
class LevelRules:
    """Thresholds of the automatic rules.

    Group incident: ``group_size`` tickets of one category and place within
    ``group_days``, places compared after dropping the building, unit and room
    numbers ending in ``place_suffixes`` (`complaints.groups.normalise_place`).
    Repeat complaint: the same customer again about the same category within
    ``repeat_days`` of an earlier ticket's resolution.
    """

    group_size: int = 3
    group_days: int = 7
    repeat_days: int = 30
    place_suffixes: tuple[str, ...] = PLACE_SUFFIXES

    def __post_init__(self) -> None:
        suffixes = self.place_suffixes
        if isinstance(suffixes, str) or not all(isinstance(s, str) and s.strip() for s in suffixes):
            raise ValueError('LEVEL_RULES place_suffixes must be a list of words, e.g. ["栋", "单元"]')
        object.__setattr__(self, "place_suffixes", tuple(s.strip() for s in suffixes))


@dataclass(frozen=True, slots=True)
class Assessment:
    """What the rules say about one ticket: the bases that apply and its group, if any."""

    bases: frozenset[str]
    group_id: str = ""


def _groups(tickets: Sequence[Ticket], rules: LevelRules) -> dict[str, str]:
    """Map sync key → group id for tickets forming group incidents.

    Tickets of one category and place (`complaints.groups.normalise_place`) whose
    receipts fall within ``group_days`` of each other, at least ``group_size`` of
    them, form one linked group; its id is the first ticket's id.
    """
    window = timedelta(days=rules.group_days)
    buckets: dict[tuple[str, str], list[Ticket]] = defaultdict(list)
    for t in tickets:
        place = normalise_place(t.place, rules.place_suffixes)
        if t.category is not None and place and t.cancelled_at is None:
            buckets[(t.category.value, place)].append(t)
    found: dict[str, str] = {}
    for members in buckets.values():
        if len(members) < rules.group_size:
            continue
        members.sort(key=lambda t: (t.received_at, t.ticket_id))
        # index ranges [i, j) of windows holding enough tickets; overlapping ranges merge
        ranges: list[list[int]] = []
        j = 0
        for i, first in enumerate(members):
            while j < len(members) and members[j].received_at - first.received_at <= window:
                j += 1
            if j - i >= rules.group_size:
                if ranges and i < ranges[-1][1]:
                    ranges[-1][1] = j
                else:
                    ranges.append([i, j])
        for start, end in ranges:
            group_id = members[start].ticket_id
            for t in members[start:end]:
                found[t.sync_key] = group_id
    return found


REPEAT_OBJECTIONS = 2
"""Objections making a ticket a repeat complaint: the standard's "complained twice without resolution"."""


def complains_again(earlier: Ticket, later: Ticket, window: timedelta) -> bool:
    """``later`` raises ``earlier``'s problem (same category) again within ``window`` of its resolution.

    The caller has matched the customer. Two tickets without a category are not
    taken for the same problem: the rule cannot tell.
    """
    return (
        earlier.sync_key != later.sync_key
        and earlier.resolved_at is not None
        and earlier.category is not None
        and earlier.category is later.category
        and earlier.resolved_at <= later.received_at <= earlier.resolved_at + window
    )


def _repeats(tickets: Iterable[Ticket], rules: LevelRules) -> set[str]:
    """Sync keys of repeat complaints (DESIGN §3.4, standard §4.1 "投诉2次未解决").

    A customer's unresolved tickets when they have two at once, and a ticket
    raising again a problem of the same customer resolved within ``repeat_days``
    before it was received. (Objections are counted on the ticket itself: `own_bases`.)
    """
    by_customer: dict[str, list[Ticket]] = defaultdict(list)
    for t in tickets:
        if t.cancelled_at is None and t.contact.strip():
            by_customer[customer_key(t.contact)].append(t)
    window = timedelta(days=rules.repeat_days)
    found: set[str] = set()
    for same in by_customer.values():
        unresolved = [t.sync_key for t in same if t.resolved_at is None]
        if len(unresolved) >= 2:
            found.update(unresolved)
        for later in same:
            if any(complains_again(earlier, later, window) for earlier in same):
                found.add(later.sync_key)
    return found


def own_bases(ticket: Ticket) -> set[str]:
    """The bases a ticket carries by itself, whatever its neighbours: media, the regulator, two objections."""
    bases = set()
    if ticket.objection_count >= REPEAT_OBJECTIONS and ticket.cancelled_at is None:
        bases.add(Basis.REPEAT)
    if ticket.media_exposure:
        bases.add(Basis.MEDIA)
    if on_appeal(ticket):
        bases.add(Basis.REGULATOR)
    return bases


def assess(tickets: Sequence[Ticket], rules: LevelRules | None = None) -> dict[str, Assessment]:
    """Apply the level rules across a branch's tickets; keyed by sync key."""
    rules = rules or LevelRules()
    groups = _groups(tickets, rules)
    repeats = _repeats(tickets, rules)
    result: dict[str, Assessment] = {}
    for t in tickets:
        bases = own_bases(t)
        if t.sync_key in repeats:
            bases.add(Basis.REPEAT)
        if t.sync_key in groups:
            bases.add(Basis.GROUP)
        result[t.sync_key] = Assessment(frozenset(bases), groups.get(t.sync_key, ""))
    return result


def apply_assessment(
    ticket: Ticket, assessment: Assessment, at: datetime, by: str = "system", head: str = ""
) -> tuple[Ticket, Escalation | None, LogEntry | None]:
    """Raise the level for bases that have not fired on this ticket before.

    A basis fires once: after a coordinator de-escalates with a reason, the same
    basis does not raise the ticket again (a new basis does). Rules never lower
    a level. Applying the same assessment twice changes nothing.
    """
    known = {b for b in ticket.level_basis.split(",") if b}
    new = assessment.bases - known
    changes: dict[str, object] = {}
    if assessment.group_id and assessment.group_id != ticket.group_id:
        changes["group_id"] = assessment.group_id
    if new:
        changes["level_basis"] = ",".join(sorted(known | new))
    target = max((BASIS_LEVEL[b] for b in new), key=lambda lv: lv.rank, default=Level.BLUE)
    if target.rank <= ticket.level.rank:
        return (revised(ticket, **changes) if changes else ticket), None, None
    reason = "; ".join(BASIS_REASON[b] for b in sorted(new) if BASIS_LEVEL[b].rank > ticket.level.rank)
    level, record, entry = _level_changes(ticket, target, reason, by, at, head, LogKind.ESCALATION)
    return revised(ticket, **changes, **level), record, entry
