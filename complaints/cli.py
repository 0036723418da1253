"""Administrator's command line for the rules: calendar status and the deadlines of a ticket."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from complaints.calendar import Region, WorkCalendar, load_calendar
from complaints.enums import Grade
from complaints.model import Ticket
from complaints.sla import DEFAULT_TZ, PENDING, Due, SlaClock, SlaPolicy

CALENDAR_ENV = "COMPLAINTS_CALENDAR"

MILESTONE_LABELS = {
    "acknowledge": ("首次响应", "Acknowledge"),
    "plan": ("方案沟通", "Plan communicated"),
    "dept_feedback": ("部门反馈", "Department feedback"),
    "resolve": ("处理完成", "Resolved"),
    "feedback": ("结果反馈", "Feedback to customer"),
    "revisit_from": ("回访开始", "Revisit window opens"),
    "revisit_until": ("回访截止", "Revisit window closes"),
    "appeal_risk": ("申诉风险", "Appeal risk (MIIT)"),
}


def schedule(received: datetime, grade: Grade, clock: SlaClock) -> dict[str, Due]:
    """Every deadline of a ticket received at ``received``.

    Later milestones assume the one before happens on its deadline (the latest
    permissible schedule): routed at receipt, closed when feedback is due.
    """
    ticket = Ticket(ticket_id="-", received_at=received, routed_at=received, grade=grade)
    first = clock.deadlines(ticket).as_dict()
    resolve = first["resolve"]
    if isinstance(resolve, datetime):
        ticket = dataclasses.replace(ticket, resolved_at=resolve)
        feedback = clock.deadlines(ticket).feedback
        assert isinstance(feedback, datetime)
        ticket = dataclasses.replace(ticket, closed_at=feedback)
        return clock.deadlines(ticket).as_dict()
    first.update(feedback=PENDING, revisit_from=PENDING, revisit_until=PENDING)
    return first


def _parse_received(text: str, zone: ZoneInfo) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise SystemExit(
            f"--received: {text!r} is not an ISO datetime (e.g. 2026-09-30T09:10+08:00)"
        ) from exc
    return moment.replace(tzinfo=zone) if moment.tzinfo is None else moment


def _calendar(args: argparse.Namespace) -> WorkCalendar:
    try:
        return load_calendar(args.calendar or os.environ.get(CALENDAR_ENV), Region(args.region))
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc


def cmd_due(args: argparse.Namespace) -> int:
    try:
        zone = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SystemExit(f"--tz: unknown time zone {args.tz!r}") from exc
    received = _parse_received(args.received, zone)
    clock = SlaClock(_calendar(args), SlaPolicy(tz=args.tz))
    due = schedule(received, Grade(args.grade), clock)
    shown = {k: (v.astimezone(zone).isoformat() if isinstance(v, datetime) else v) for k, v in due.items()}
    if args.json:
        print(json.dumps(shown, ensure_ascii=False, indent=2))
        return 0
    print(f"受理 / received: {received.astimezone(zone).isoformat()}  ({args.grade}, {args.tz})")
    for key, value in shown.items():
        zh, en = MILESTONE_LABELS[key]
        text = "待发布节假日 / pending calendar" if value == PENDING else value
        print(f"  {zh:<6} {en:<22} {text}")
    if PENDING in shown.values():
        print(
            "warning: some deadlines fall in a year whose holiday schedule is not published", file=sys.stderr
        )
    return 0


def _year_ranges(calendar: WorkCalendar) -> list[tuple[int, int, str]]:
    """Known years folded into runs of consecutive years with the same source."""
    runs: list[tuple[int, int, str]] = []
    for status in calendar.known_years():
        if runs and runs[-1][1] == status.year - 1 and runs[-1][2] == status.source:
            runs[-1] = (runs[-1][0], status.year, status.source)
        else:
            runs.append((status.year, status.year, status.source))
    return runs


def cmd_calendar_status(args: argparse.Namespace) -> int:
    calendar = _calendar(args)
    today = date.fromisoformat(args.today) if args.today else date.today()
    print(f"地区 / region: {calendar.region.value}")
    for first, last, source in _year_ranges(calendar):
        years = str(first) if first == last else f"{first}–{last}"
        print(f"  {years}: {source}")
    missing = calendar.missing_next_year(today)
    if missing is not None:
        print(
            f"warning: {missing} 年节假日安排尚未加载 / the {missing} holiday schedule is not loaded yet; "
            f"deadlines in {missing} will show as pending calendar until it is",
            file=sys.stderr,
        )
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m complaints", description=__doc__)
    parser.add_argument("--calendar", help=f"operator calendar overrides (JSON); default ${CALENDAR_ENV}")
    parser.add_argument("--region", default="CN", choices=[r.value for r in Region])
    sub = parser.add_subparsers(dest="command", required=True)

    cal = sub.add_parser("calendar", help="working-day calendar")
    cal_sub = cal.add_subparsers(dest="calendar_command", required=True)
    status = cal_sub.add_parser("status", help="which years are known and where each came from")
    status.add_argument("--today", help="ISO date to check against (default: today)")
    status.set_defaults(func=cmd_calendar_status)

    due = sub.add_parser("due", help="every deadline of a ticket received at a given time")
    due.add_argument("--received", required=True, help="ISO datetime; without offset it is local to --tz")
    due.add_argument("--grade", required=True, choices=[g.value for g in Grade])
    due.add_argument("--tz", default=DEFAULT_TZ)
    due.add_argument("--json", action="store_true")
    due.set_defaults(func=cmd_due)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
