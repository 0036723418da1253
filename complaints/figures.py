"""The head-office figures: each defined once — its name in both languages, what it counts, its value.

Every place that shows a figure (the dashboard, the consolidated workbook, the
scheduler's monthly analysis, the branch's monthly summary) takes its label
and its value from here, and every count of tickets carries the `Selection`
of the tickets it counts, which is also the filter of the list behind it.

Populations (see `complaints.kpis`), each for a `complaints.periods.Period`
placed in each branch's local days, cancelled tickets left out of all but
`CANCELLED`:

- ticket counts (received, cancelled, unfinished, overdue, revisit due, by
  status, level and category, red, yellow, repeat, group complaint and
  major tickets) count tickets **received** in the period that pass their
  selection; flags and levels are those of the last write or flag scan;
- repeat complainants: the distinct customers of the repeat complaint tickets;
  group incidents: the distinct group incidents of the group complaint tickets;
- group revisit satisfaction: satisfied or fairly satisfied among members of a
  group incident **revisited** in the period with an answer;
- major plans on time: among live major tickets (graded 重大, `complaints.major`)
  received in the period whose plan was communicated, those whose plan met its
  deadline (24 elapsed hours), as the rules judge the plan milestone; a major
  ticket with no plan yet is not in it (it is flagged overdue when late);
- resolution rate: resolved among those received; root-cause improvement rate:
  measures effective (their cause did not recur within the window,
  `complaints.rootcause`) among those received with a root cause, measures
  still watched left out; fishbone categories and measure states: tickets
  received with them;
- satisfaction: satisfied or fairly satisfied among tickets **revisited** in
  the period with an answer;
- closed-loop timeliness (every deadline met) and the median working days to
  close: tickets **closed** in the period;
- on-time rate of a milestone: tickets whose milestone **happened** in the period.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from complaints import selections
from complaints.enums import Category, Fishbone, Labelled, Level, MeasureStatus, Status
from complaints.selections import Selection

if TYPE_CHECKING:
    from complaints.kpis import Kpis, Rate

Value = int | float | None


class Milestone(Labelled):
    """Milestones with a deadline whose on-time rate is reported."""

    ACKNOWLEDGE = ("acknowledge", "首次响应", "Acknowledgement")
    PLAN = ("plan", "方案沟通", "Plan communicated")
    RESOLVE = ("resolve", "处理完成", "Resolution")
    FEEDBACK = ("feedback", "结果反馈", "Result feedback")
    REVISIT = ("revisit", "回访", "Revisit")


class Kind(StrEnum):
    TICKETS = "tickets"
    """A number of tickets: the list of its `Figure.selection` shows exactly them."""
    NUMBER = "number"
    """A number of something else (customers, incidents)."""
    RATE = "rate"
    """A share (0–1), None when nothing was there to count."""
    DAYS = "days"
    """Working days."""


@dataclass(frozen=True)
class Figure:
    """One head-office figure: ``key`` (stable, for code and links), labels, kind and value."""

    key: str
    zh: str
    en: str
    kind: Kind
    value: Callable[[Kpis], Value]
    selection: Selection | None = None
    """For `Kind.TICKETS`: the tickets received in the period that it counts."""
    share: Callable[[Kpis], Rate] | None = None
    """For `Kind.RATE`: the hits and total behind the rate."""

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


def _count(selection: Selection) -> Callable[[Kpis], Value]:
    return lambda k: k.count(selection)


def _tickets(key: str, zh: str, en: str, selection: Selection) -> Figure:
    return Figure(key, zh, en, Kind.TICKETS, _count(selection), selection)


def _rate(key: str, zh: str, en: str, share: Callable[[Kpis], Rate]) -> Figure:
    return Figure(key, zh, en, Kind.RATE, lambda k: share(k).rate, share=share)


def _detail(zh: str, en: str, detail: Labelled | tuple[str, str]) -> tuple[str, str]:
    """The zh and en labels of a breakdown, "head：detail" and "head: detail", as workbooks name them."""
    d_zh, d_en = (detail.zh, detail.en) if isinstance(detail, Labelled) else detail
    return f"{zh}：{d_zh}", f"{en}: {d_en}"


RECEIVED = _tickets("received", "受理量", "Complaints received", selections.RECEIVED)
CANCELLED = _tickets("cancelled", "已撤销", "Cancelled", selections.CANCELLED)
UNFINISHED = _tickets("unfinished", "未完结", "Unfinished", selections.UNFINISHED)
OVERDUE = _tickets("overdue", "超时", "Overdue", selections.OVERDUE)
REVISIT_DUE = _tickets("revisit_due", "待回访", "Revisit due", selections.REVISIT_DUE)
RED = _tickets("red", "红色预警", "Red warnings", selections.RED)
YELLOW = _tickets("yellow", "黄色预警", "Yellow warnings", selections.YELLOW)
REPEAT_TICKETS = _tickets("repeat_tickets", "重复投诉单", "Repeat complaint tickets", selections.REPEAT)
REPEAT_CUSTOMERS = Figure(
    "repeat_customers", "重复投诉客户", "Repeat complainants", Kind.NUMBER, lambda k: k.repeat_customers
)
GROUP_TICKETS = _tickets("group_tickets", "群体投诉单", "Group complaint tickets", selections.GROUPED)
GROUP_INCIDENTS = Figure(
    "group_incidents", "群体投诉事件", "Group incidents", Kind.NUMBER, lambda k: k.groups
)
GROUP_REVISIT = _rate(
    "group_revisit", "群体回访满意率", "Group revisit satisfaction", lambda k: k.group_revisit
)
MAJOR = _tickets("major", "重大投诉单", "Major cases", selections.MAJOR)
MAJOR_PLAN = _rate("major_plan", "重大方案及时率", "Major plans on time", lambda k: k.major_plan)
RESOLUTION = _rate("resolution", "解决率", "Resolution rate", lambda k: k.resolution)
SATISFACTION = _rate("satisfaction", "满意度", "Satisfaction rate", lambda k: k.satisfaction)
CLOSED_LOOP = _rate("closed_loop", "闭环及时率", "Closed-loop timeliness", lambda k: k.closed_loop)
MEDIAN_CLOSE = Figure(
    "median_close",
    "闭环用时中位数（工作日）",
    "Median working days to close",
    Kind.DAYS,
    lambda k: k.median_workdays_to_close,
)
IMPROVEMENT = _rate("improvement", "溯源改进率", "Root-cause improvement rate", lambda k: k.improvement)
MEASURES_OVERDUE = Figure(
    "measures_overdue",
    "改进措施超时",
    "Improvement measures overdue",
    Kind.NUMBER,
    lambda k: k.measures_overdue,
)
MEASURES_WATCHED = Figure(
    "measures_watched",
    "改进措施观察期",
    "Improvement measures watched",
    Kind.NUMBER,
    lambda k: k.improvement.unknown,
)
UNCATEGORISED = _tickets(
    "uncategorised", *_detail("类型分布", "Type", ("未分类", "Uncategorised")), selections.UNCATEGORISED
)


def on_time(milestone: Milestone) -> Figure:
    """The on-time rate of ``milestone``."""
    zh, en = _detail("按时率", "On-time rate", milestone)
    return _rate(f"on_time_{milestone.value}", zh, en, lambda k: k.on_time[milestone])


def by_category(category: Category) -> Figure:
    """Tickets received of ``category`` (the type distribution)."""
    zh, en = _detail("类型分布", "Type", category)
    return _tickets(f"category_{category.value}", zh, en, selections.with_category(category))


def by_fishbone(branch: Fishbone) -> Figure:
    """Tickets received whose root cause is traced to the fishbone ``branch``."""
    zh, en = _detail("根因类别", "Root-cause category", branch)
    return Figure(f"fishbone_{branch.value}", zh, en, Kind.NUMBER, lambda k: k.fishbone[branch])


def by_measure(status: MeasureStatus) -> Figure:
    """Tickets received whose improvement measure is in ``status``."""
    zh, en = _detail("改进措施", "Improvement measures", status)
    return Figure(f"measure_{status.value}", zh, en, Kind.NUMBER, lambda k: k.measures[status])


def by_status(status: Status) -> Figure:
    """Tickets received now in ``status``; for cancelled, the `CANCELLED` figure."""
    if status is Status.CANCELLED:
        return CANCELLED
    return _tickets(f"status_{status.value}", status.zh, status.en, selections.with_status(status))


def by_level(level: Level) -> Figure:
    """Tickets received now at warning ``level`` (red and yellow: `RED`, `YELLOW`)."""
    if level is Level.RED:
        return RED
    if level is Level.YELLOW:
        return YELLOW
    return _tickets(f"level_{level.value}", level.zh, level.en, selections.with_level(level))


TABLE: tuple[Figure, ...] = (
    RECEIVED,
    CANCELLED,
    UNFINISHED,
    OVERDUE,
    REVISIT_DUE,
    RESOLUTION,
    SATISFACTION,
    CLOSED_LOOP,
    MEDIAN_CLOSE,
    *(on_time(m) for m in Milestone),
    IMPROVEMENT,
    RED,
    YELLOW,
    REPEAT_TICKETS,
    REPEAT_CUSTOMERS,
    GROUP_TICKETS,
    GROUP_INCIDENTS,
    GROUP_REVISIT,
    MAJOR,
    MAJOR_PLAN,
)
"""The figures of a KPI table (per branch, per department): the dashboard's and the workbook's columns."""

TRENDS: tuple[Figure, ...] = (RECEIVED, RESOLUTION, SATISFACTION, CLOSED_LOOP, RED, YELLOW)
"""The figures followed month by month."""
