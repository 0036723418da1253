"""Root causes that close the loop (standard §4.2, §4.4): a fishbone branch, a measure, and whether it worked.

A ticket's root cause is traced to a branch of the fishbone diagram
(`Fishbone`), besides the free-text root cause. Its improvement measure (the
free-text ``improvement``) has an owner, a due date and a `MeasureStatus`; a
measure still planned or in progress after its due date is flagged.

A measure done is **effective** only when its cause does not recur: no new
complaint of the same branch with the same fishbone branch and the same
complaint category is received within ``SlaPolicy.recurrence_days`` calendar
days after the measure was done. A complaint received exactly when the window
ends is outside it. Until the window has passed the measure is being watched
(`Effect.WATCHING`): the root-cause improvement rate leaves it out, as a rate
leaves out what it cannot judge yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from complaints.enums import Effect, Fishbone, MeasureStatus
from complaints.model import Ticket, revised

OPEN_MEASURE = frozenset({MeasureStatus.PLANNED, MeasureStatus.IN_PROGRESS})
ALL_CATEGORIES = tuple(Fishbone)


def categories_from_settings(codes: Sequence[str] | None) -> tuple[Fishbone, ...]:
    """The fishbone branches a server offers (``ROOT_CAUSE_CATEGORIES``; None: all); refuses unknown ones."""
    if codes is None:
        return ALL_CATEGORIES
    if isinstance(codes, str) or not codes:
        raise ValueError("ROOT_CAUSE_CATEGORIES must be a non-empty list of fishbone category codes")
    offered = []
    for code in codes:
        try:
            offered.append(Fishbone.parse(str(code)))
        except ValueError:
            known = ", ".join(f.value for f in Fishbone)
            raise ValueError(
                f"ROOT_CAUSE_CATEGORIES: unknown category {code!r}; use some of {known}"
            ) from None
    return tuple(dict.fromkeys(offered))


def has_measure(ticket: Ticket) -> bool:
    """An improvement measure is recorded: its text, owner, due date, status or done time."""
    return bool(
        ticket.improvement.strip()
        or ticket.measure_owner.strip()
        or ticket.measure_due is not None
        or ticket.measure_status is not None
        or ticket.measure_done_at is not None
    )


def has_root_cause(ticket: Ticket) -> bool:
    """The cause was traced: a fishbone branch or a root-cause text."""
    return ticket.fishbone is not None or bool(ticket.root_cause.strip())


def problems(ticket: Ticket, offered: Iterable[Fishbone] = tuple(Fishbone)) -> list[tuple[str, str, str]]:
    """What the root cause and measure of ``ticket`` must satisfy, as (field, English, Chinese)."""
    found = []
    allowed = tuple(offered)
    if ticket.fishbone is not None and ticket.fishbone not in allowed:
        found.append(
            (
                "fishbone",
                f"root-cause category {ticket.fishbone.en} is not offered here; choose one of "
                + ", ".join(f.en for f in allowed),
                f"根因类别“{ticket.fishbone.zh}”未启用，请选择：" + "、".join(f.zh for f in allowed),
            )
        )
    if has_measure(ticket) and not ticket.improvement.strip():
        found.append(
            (
                "improvement",
                "describe the improvement measure in Improvement",
                "请在“改进措施”中写明改进措施",
            )
        )
    if ticket.measure_status is MeasureStatus.DROPPED and ticket.measure_done_at is not None:
        found.append(
            (
                "measure_done_at",
                "a dropped measure has no done time; clear Measure done at or change its status",
                "已放弃的措施没有完成时间，请清空“措施完成时间”或修改措施状态",
            )
        )
    done = ticket.measure_done_at
    if done is not None and done < ticket.received_at:
        found.append(
            (
                "measure_done_at",
                "the measure cannot be done before the complaint was received",
                "措施完成时间不能早于受理时间",
            )
        )
    return found


def settle_measure(before: Ticket | None, after: Ticket, now: datetime) -> Ticket:
    """Make the measure's status, done time and the *improvement done* box agree (Excel-natural).

    A done time typed, or the box ticked, marks the measure done; a measure marked
    done without a time is done ``now``; a status changed away from done clears
    the done time. A measure with no status is planned. Returns ``after`` itself
    when nothing changes.
    """
    status, done_at = after.measure_status, after.measure_done_at
    moved_away = (
        before is not None
        and before.measure_status is MeasureStatus.DONE
        and status is not None
        and status is not MeasureStatus.DONE
    )
    if moved_away:
        done_at = None
    elif status is not MeasureStatus.DROPPED and (done_at is not None or after.improvement_done):
        status = MeasureStatus.DONE
    if status is None and has_measure(after):
        status = MeasureStatus.PLANNED
    if status is MeasureStatus.DONE and done_at is None:
        done_at = now
    done = status is MeasureStatus.DONE
    if (status, done_at, done) == (after.measure_status, after.measure_done_at, after.improvement_done):
        return after
    return revised(after, measure_status=status, measure_done_at=done_at, improvement_done=done)


def recurs(measured: Ticket, later: Ticket, days: int) -> bool:
    """``later`` is a recurrence of ``measured``'s cause: same branch, fishbone branch and category,
    live, and received after the measure was done and before the window ends."""
    done = measured.measure_done_at
    return (
        done is not None
        and measured.measure_status is MeasureStatus.DONE
        and measured.fishbone is not None
        and later.sync_key != measured.sync_key
        and later.cancelled_at is None
        and later.branch == measured.branch
        and later.fishbone is measured.fishbone
        and later.category is measured.category
        and done < later.received_at < done + timedelta(days=days)
    )


def recurrence(measured: Ticket, others: Iterable[Ticket], days: int) -> datetime | None:
    """When ``measured``'s cause first recurred among ``others`` (None: it has not)."""
    return min((t.received_at for t in others if recurs(measured, t, days)), default=None)


def effect_of(ticket: Ticket, now: datetime, days: int) -> Effect | None:
    """What came of the ticket's measure at ``now``; None while no measure is done."""
    done = ticket.measure_done_at
    if ticket.measure_status is not MeasureStatus.DONE or done is None:
        return None
    if ticket.recurred_at is not None:
        return Effect.RECURRED
    return Effect.EFFECTIVE if now >= done + timedelta(days=days) else Effect.WATCHING


def watch_ends(ticket: Ticket, days: int) -> datetime | None:
    """When a watched measure becomes effective unless its cause recurs first (None: nothing to wait for)."""
    if ticket.effect is not Effect.WATCHING or ticket.measure_done_at is None:
        return None
    return ticket.measure_done_at + timedelta(days=days)


def improved(ticket: Ticket) -> bool | None:
    """The ticket's root cause counted in the improvement rate: effective (True), not (False), watched (None).

    A measure not done (none, planned, in progress, dropped) or whose cause recurred is not effective.
    """
    if ticket.effect is Effect.WATCHING:
        return None
    return ticket.effect is Effect.EFFECTIVE


def measure_open(ticket: Ticket) -> bool:
    """The measure is still to be done (planned or in progress)."""
    return ticket.measure_status in OPEN_MEASURE
