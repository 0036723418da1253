"""Enumerations of the complaint standard, each member with a Chinese and English label."""

from __future__ import annotations

from enum import StrEnum
from functools import cache


class Labelled(StrEnum):
    """A string enum whose members carry ``zh`` and ``en`` labels.

    The value is the stable code stored in the database and sent over the wire;
    the labels are what people see in the workbook and on pages. ``str()`` of a
    member is its code (`StrEnum`'s own ``str.__str__``, in C: the database and
    the wire call it for every enumerated field).
    """

    zh: str
    en: str

    def __new__(cls, code: str, zh: str, en: str) -> Labelled:
        member = str.__new__(cls, code)
        member._value_ = code
        member.zh = zh
        member.en = en
        return member

    def label(self, lang: str = "zh") -> str:
        """Return the label in ``lang`` ("zh" or "en")."""
        return self.zh if lang == "zh" else self.en

    @classmethod
    def parse(cls, text: str) -> Labelled:
        """Return the member whose code, Chinese or English label is ``text``.

        Matching ignores case and surrounding blanks, so a value typed in either
        language of the workbook is understood.
        """
        member = names_of(cls).get(text.strip().casefold())
        if member is None:
            raise ValueError(f"{text!r} is not a valid {cls.__name__}")
        return member


@cache
def names_of(enum: type[Labelled]) -> dict[str, Labelled]:
    """Code, Chinese and English label (casefolded) → member, the first member where two share one."""
    table: dict[str, Labelled] = {}
    for member in enum:
        for text in (member.value, member.zh, member.en):
            table.setdefault(text.casefold(), member)
    return table


class Channel(Labelled):
    HOTLINE = ("hotline", "客服热线", "Hotline")
    HALL = ("hall", "营业厅", "Business hall")
    APP = ("app", "APP/网站", "App / website")
    WEIBO = ("weibo", "微博", "Weibo")
    DOUYIN = ("douyin", "抖音", "Douyin")
    REGULATOR = ("regulator", "工信部/12300", "Regulator (MIIT / 12300)")
    OTHER = ("other", "其他", "Other")


class Category(Labelled):
    NETWORK_FAULT = ("network_fault", "网络故障", "Network fault")
    BILLING_DISPUTE = ("billing_dispute", "资费争议", "Tariff / billing dispute")
    STAFF_ATTITUDE = ("staff_attitude", "服务态度", "Staff attitude")
    HANDLING_ERROR = ("handling_error", "业务办理差错", "Handling error")
    PRODUCT_TERMS = ("product_terms", "产品条款", "Product terms")
    OTHER = ("other", "其他", "Other")


class Grade(Labelled):
    MINOR = ("minor", "轻微", "Minor")
    MODERATE = ("moderate", "中度", "Moderate")
    MAJOR = ("major", "重大", "Major")


class Level(Labelled):
    BLUE = ("blue", "蓝", "Blue")
    YELLOW = ("yellow", "黄", "Yellow")
    RED = ("red", "红", "Red")

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {level: rank for rank, level in enumerate(Level)}


class Status(Labelled):
    NEW = ("new", "新建", "New")
    ACKNOWLEDGED = ("acknowledged", "已响应", "Acknowledged")
    INVESTIGATING = ("investigating", "调查中", "Investigating")
    EXECUTING = ("executing", "处理中", "Executing")
    REINVESTIGATING = ("reinvestigating", "二次调查", "Second investigation")
    RESOLVED = ("resolved", "已处理", "Resolved")
    FEEDBACK_GIVEN = ("feedback_given", "已反馈", "Feedback given")
    CLOSED = ("closed", "已闭环", "Closed")
    REVISITED = ("revisited", "已回访", "Revisited")
    CANCELLED = ("cancelled", "已撤销", "Cancelled")


class Satisfaction(Labelled):
    SATISFIED = ("satisfied", "满意", "Satisfied")
    FAIRLY_SATISFIED = ("fairly_satisfied", "基本满意", "Fairly satisfied")
    DISSATISFIED = ("dissatisfied", "不满意", "Dissatisfied")


class LogKind(Labelled):
    PROGRESS = ("progress", "进度通报", "Progress update")
    CONFIRMATION = ("confirmation", "书面确认", "Written confirmation")
    NOTE = ("note", "内部备注", "Internal note")
    ESCALATION = ("escalation", "升级", "Escalation")
    DEESCALATION = ("deescalation", "降级", "De-escalation")
    OBJECTION = ("objection", "客户异议", "Objection")
    REOPEN = ("reopen", "重新处理", "Reopened")
    CANCELLATION = ("cancellation", "撤销", "Cancellation")


class Fishbone(Labelled):
    """The branches of the fishbone (root-cause) diagram a cause is traced to (standard §4.2)."""

    NETWORK = ("network", "网络", "Network")
    SYSTEM = ("system", "系统", "System")
    PROCESS = ("process", "流程", "Process")
    STAFF = ("staff", "人员", "Staff")
    POLICY = ("policy", "政策", "Policy")
    PARTNER = ("partner", "合作方", "Partner")
    CUSTOMER = ("customer", "客户理解", "Customer understanding")


class MeasureStatus(Labelled):
    """Where an improvement measure stands."""

    PLANNED = ("planned", "计划中", "Planned")
    IN_PROGRESS = ("in_progress", "进行中", "In progress")
    DONE = ("done", "已完成", "Done")
    DROPPED = ("dropped", "已放弃", "Dropped")


class Effect(Labelled):
    """What came of a measure done: watched for a recurrence of its cause, effective, or recurred."""

    WATCHING = ("watching", "观察期", "Watching")
    EFFECTIVE = ("effective", "已见效", "Effective")
    RECURRED = ("recurred", "原因复发", "Cause recurred")


class Flag(Labelled):
    """Computed flags (DESIGN §3.3); ``*_SOON`` members are the due-soon warnings."""

    ACK_OVERDUE = ("ACK_OVERDUE", "响应超时", "Acknowledgement overdue")
    ACK_DUE_SOON = ("ACK_DUE_SOON", "响应即将到期", "Acknowledgement due soon")
    ROUTE_OVERDUE = ("ROUTE_OVERDUE", "分派超时", "Routing overdue")
    PLAN_OVERDUE = ("PLAN_OVERDUE", "方案超时", "Plan overdue")
    PLAN_DUE_SOON = ("PLAN_DUE_SOON", "方案即将到期", "Plan due soon")
    DEPT_FEEDBACK_OVERDUE = ("DEPT_FEEDBACK_OVERDUE", "部门反馈超时", "Department feedback overdue")
    DEPT_FEEDBACK_DUE_SOON = ("DEPT_FEEDBACK_DUE_SOON", "部门反馈即将到期", "Department feedback due soon")
    RESOLVE_OVERDUE = ("RESOLVE_OVERDUE", "处理超时", "Resolution overdue")
    RESOLVE_DUE_SOON = ("RESOLVE_DUE_SOON", "处理即将到期", "Resolution due soon")
    FEEDBACK_OVERDUE = ("FEEDBACK_OVERDUE", "结果反馈超时", "Feedback overdue")
    FEEDBACK_DUE_SOON = ("FEEDBACK_DUE_SOON", "结果反馈即将到期", "Feedback due soon")
    REVISIT_DUE = ("REVISIT_DUE", "待回访", "Revisit due")
    REVISIT_OVERDUE = ("REVISIT_OVERDUE", "回访超时", "Revisit overdue")
    NO_PROGRESS = ("NO_PROGRESS", "未通报进度", "No progress update")
    TASK_OVERDUE = ("TASK_OVERDUE", "任务超时", "Task overdue")
    TASK_DUE_SOON = ("TASK_DUE_SOON", "任务即将到期", "Task due soon")
    APPEAL_RISK = ("APPEAL_RISK", "申诉风险", "Appeal risk (MIIT)")
    APPEAL_RISK_SOON = ("APPEAL_RISK_SOON", "即将有申诉风险", "Appeal risk soon")
    INFO_INCOMPLETE = ("INFO_INCOMPLETE", "信息不全", "Information incomplete")
    VAGUE_DESCRIPTION = ("VAGUE_DESCRIPTION", "描述模糊", "Vague description")
    CHECKLIST_INCOMPLETE = ("CHECKLIST_INCOMPLETE", "应急清单未完成", "Emergency checklist incomplete")
    MEASURE_OVERDUE = ("MEASURE_OVERDUE", "改进措施超时", "Improvement measure overdue")
    MEASURE_DUE_SOON = ("MEASURE_DUE_SOON", "改进措施即将到期", "Improvement measure due soon")
    PENDING_CALENDAR = ("PENDING_CALENDAR", "待发布节假日", "Pending calendar")
    FEEDBACK_CHANNEL = ("FEEDBACK_CHANNEL", "未经首选渠道反馈", "Feedback not via preferred channel")
    UNCONFIRMED_COMMITMENT = (
        "UNCONFIRMED_COMMITMENT",
        "承诺未书面确认",
        "Commitment not confirmed in writing",
    )

    @property
    def is_overdue(self) -> bool:
        return self.value.endswith("OVERDUE") or self is Flag.APPEAL_RISK
