"""SLA clocks: every deadline of a ticket, in working days of the branch's calendar.

Convention (DESIGN §3.2): convert to the branch's local time before taking the
date; the receipt day does not count; "within N working days" is due at the end
of the N-th working day after it. "Within 24 hours" is elapsed time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from complaints.calendar import CalendarPendingError, WorkCalendar
from complaints.enums import Grade
from complaints.major import handling_grade
from complaints.model import Ticket

DEFAULT_TZ = "Asia/Shanghai"
END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class SlaPolicy:
    """Configurable deadlines; the defaults follow the standard."""

    ack_workdays: int = 1
    plan_workdays: int = 3
    plan_hours: dict[Grade, int] = field(default_factory=lambda: {Grade.MAJOR: 24})
    """Grades whose plan is due in elapsed hours rather than `plan_workdays` (major: within 24 hours)."""
    route_hours: int = 4
    """Elapsed hours after receipt by which a ticket must be routed (the standard: at once)."""
    emergency_groups: bool = False
    """Every group incident takes the emergency path of a major case (`complaints.major`), not only
    tickets graded major."""
    dept_feedback_workdays: dict[Grade, int] = field(
        default_factory=lambda: {Grade.MINOR: 2, Grade.MODERATE: 2, Grade.MAJOR: 1}
    )
    resolve_workdays: dict[Grade, int] = field(
        default_factory=lambda: {Grade.MINOR: 3, Grade.MODERATE: 7, Grade.MAJOR: 15}
    )
    feedback_hours: int = 24
    revisit_from_workday: int = 3
    revisit_until_workday: int = 7
    progress_interval_workdays: int = 2
    progress_hours: dict[Grade, int] = field(default_factory=lambda: {Grade.MAJOR: 24})
    """Grades whose progress reports are due every N elapsed hours instead (major: daily during works)."""
    appeal_risk_days: int = 15
    recurrence_days: int = 90
    """Calendar days after an improvement measure is done in which a complaint of the same cause means it
    did not work (`complaints.rootcause`)."""
    # how long before a deadline the "due soon" warning shows
    due_soon: timedelta = timedelta(hours=24)
    feedback_due_soon: timedelta = timedelta(hours=4)
    appeal_due_soon: timedelta = timedelta(days=3)
    tz: str = DEFAULT_TZ

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)


SETTABLE_POLICY: frozenset[str] = frozenset(
    {
        "ack_workdays",
        "plan_workdays",
        "plan_hours",
        "route_hours",
        "dept_feedback_workdays",
        "resolve_workdays",
        "feedback_hours",
        "revisit_from_workday",
        "revisit_until_workday",
        "progress_interval_workdays",
        "progress_hours",
        "appeal_risk_days",
        "emergency_groups",
        "recurrence_days",
    }
)
"""What an operator may set (``SLA_POLICY``): whole numbers (per-grade ones map grade codes), one switch."""


def policy_from_settings(settings: dict[str, object], tz: str = DEFAULT_TZ) -> SlaPolicy:
    """A policy from operator settings such as ``{"route_hours": 2, "plan_hours": {"major": 12}}``.

    Per-grade working days are merged over the defaults (every grade needs one);
    per-grade hours replace the defaults (a grade left out counts working days).
    Unknown names, grades or non-numbers are refused, naming them.
    """
    defaults = SlaPolicy()
    values: dict[str, object] = {}
    for name, value in settings.items():
        if name not in SETTABLE_POLICY:
            raise ValueError(
                f"SLA_POLICY: unknown setting {name!r}; use one of {', '.join(sorted(SETTABLE_POLICY))}"
            )
        if isinstance(value, dict):
            try:
                given = {Grade.parse(str(g)): _whole(f"{name}.{g}", n) for g, n in value.items()}
            except ValueError as exc:
                raise ValueError(f"SLA_POLICY: {name}: {exc}") from exc
            base = {} if name.endswith("_hours") else getattr(defaults, name)
            values[name] = base | given
        elif name == "emergency_groups":
            if not isinstance(value, bool):
                raise ValueError(f"SLA_POLICY: emergency_groups must be true or false, not {value!r}")
            values[name] = value
        else:
            values[name] = _whole(name, value)
    return SlaPolicy(tz=tz, **values)  # type: ignore[arg-type]


def _whole(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"SLA_POLICY: {name} must be a whole number of 0 or more, not {value!r}")
    return value


class Clock:
    """Names of the deadlines, used as keys of `Deadlines.as_dict()` and in the CLI JSON."""

    ACK = "acknowledge"
    PLAN = "plan"
    DEPT_FEEDBACK = "dept_feedback"
    RESOLVE = "resolve"
    FEEDBACK = "feedback"
    REVISIT_FROM = "revisit_from"
    REVISIT_UNTIL = "revisit_until"
    APPEAL_RISK = "appeal_risk"


PENDING = "pending_calendar"
Due = datetime | str | None
"""A deadline: an aware datetime, `PENDING` when the calendar is unpublished, None if not applicable."""


@dataclass(frozen=True, slots=True)
class Deadlines:
    acknowledge: Due
    plan: Due
    dept_feedback: Due
    resolve: Due
    feedback: Due
    revisit_from: Due
    revisit_until: Due
    appeal_risk: Due
    extension_error: str = ""

    def as_dict(self) -> dict[str, Due]:
        return {
            Clock.ACK: self.acknowledge,
            Clock.PLAN: self.plan,
            Clock.DEPT_FEEDBACK: self.dept_feedback,
            Clock.RESOLVE: self.resolve,
            Clock.FEEDBACK: self.feedback,
            Clock.REVISIT_FROM: self.revisit_from,
            Clock.REVISIT_UNTIL: self.revisit_until,
            Clock.APPEAL_RISK: self.appeal_risk,
        }

    @property
    def pending(self) -> bool:
        return any(v == PENDING for v in self.as_dict().values())


EXTENSION_PROBLEMS: dict[str, str] = {
    "extension date missing": "缺少延期申请时间",
    "extension recorded after the plan deadline": "延期在方案时限之后才申请（须在时限前告知客户）",
    "extension reason missing": "缺少延期原因",
    "customer not informed of the extension": "未告知客户延期",
    "new plan date missing": "缺少新的方案时间（延期至）",
}
"""Why an extension does not move the plan deadline (`SlaClock.plan_due`), English -> Chinese."""


def extension_problem_labels(problems: str) -> tuple[str, str]:
    """The "; "-joined problems of `SlaClock.plan_due` in Chinese and English."""
    parts = [p for p in problems.split("; ") if p]
    return "；".join(EXTENSION_PROBLEMS.get(p, p) for p in parts), "; ".join(parts)


class SlaClock:
    """Computes deadlines for tickets with one calendar and one policy."""

    def __init__(self, calendar: WorkCalendar, policy: SlaPolicy | None = None) -> None:
        self.calendar = calendar
        self.policy = policy or SlaPolicy()
        self.zone = self.policy.zone

    def local_date(self, moment: datetime) -> date:
        """The branch-local calendar date of an aware instant."""
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment.isoformat()} has no time zone")
        return moment.astimezone(self.zone).date()

    def end_of_day(self, day: date) -> datetime:
        return datetime.combine(day, END_OF_DAY, tzinfo=self.zone)

    def start_of_day(self, day: date) -> datetime:
        return datetime.combine(day, time(0, 0), tzinfo=self.zone)

    def workdays_after(self, moment: datetime, n: int) -> datetime:
        """End of the ``n``-th working day after the local date of ``moment``."""
        return self.end_of_day(self.calendar.add_workdays(self.local_date(moment), n))

    def _safe(self, moment: datetime | None, n: int, start: bool = False) -> Due:
        if moment is None:
            return None
        try:
            day = self.calendar.add_workdays(self.local_date(moment), n)
        except CalendarPendingError:
            return PENDING
        return self.start_of_day(day) if start else self.end_of_day(day)

    def plan_due(self, ticket: Ticket) -> tuple[Due, str]:
        """The plan deadline, moved by an extension only if the extension is valid.

        Valid means recorded with a reason, with the customer informed, *before*
        the original deadline. Returns the deadline and, for an invalid
        extension, the reason it was refused.
        """
        base = ticket.reopened_at or ticket.received_at
        hours = self.policy.plan_hours.get(handling_grade(ticket, self.policy.emergency_groups))
        original = base + timedelta(hours=hours) if hours else self._safe(base, self.policy.plan_workdays)
        if ticket.extension_requested_at is None and ticket.extension_until is None:
            return original, ""
        problems = []
        if ticket.extension_requested_at is None:
            problems.append("extension date missing")
        elif isinstance(original, datetime) and ticket.extension_requested_at > original:
            problems.append("extension recorded after the plan deadline")
        if not ticket.extension_reason.strip():
            problems.append("extension reason missing")
        if not ticket.extension_customer_informed:
            problems.append("customer not informed of the extension")
        if ticket.extension_until is None:
            problems.append("new plan date missing")
        if problems or original == PENDING:
            return original, "; ".join(problems)
        until = ticket.extension_until
        assert until is not None
        return self.end_of_day(self.local_date(until)), ""

    def route_due(self, ticket: Ticket) -> datetime:
        """When the ticket should have been routed to its department, in elapsed time after receipt."""
        return ticket.received_at + timedelta(hours=self.policy.route_hours)

    def progress_due(self, ticket: Ticket, since: datetime) -> datetime:
        """The next progress report after ``since``: elapsed hours for some grades, working days otherwise."""
        hours = self.policy.progress_hours.get(handling_grade(ticket, self.policy.emergency_groups))
        if hours:
            return since + timedelta(hours=hours)
        return self.workdays_after(since, self.policy.progress_interval_workdays)

    def deadlines(self, ticket: Ticket) -> Deadlines:
        """Every deadline of ``ticket`` under this calendar and policy."""
        p = self.policy
        base = ticket.reopened_at or ticket.received_at
        plan, extension_error = self.plan_due(ticket)
        if ticket.promised_at is not None:
            resolve: Due = ticket.promised_at
        else:
            resolve = self._safe(base, p.resolve_workdays[ticket.grade])
        if ticket.dept_feedback_due is not None:
            dept: Due = ticket.dept_feedback_due
        else:
            dept = self._safe(ticket.routed_at, p.dept_feedback_workdays[ticket.grade])
        feedback = ticket.resolved_at + timedelta(hours=p.feedback_hours) if ticket.resolved_at else None
        return Deadlines(
            acknowledge=self._safe(ticket.received_at, p.ack_workdays),
            plan=plan,
            dept_feedback=dept,
            resolve=resolve,
            feedback=feedback,
            revisit_from=self._safe(ticket.closed_at, p.revisit_from_workday, start=True),
            revisit_until=self._safe(ticket.closed_at, p.revisit_until_workday),
            appeal_risk=base + timedelta(days=p.appeal_risk_days),
            extension_error=extension_error,
        )
