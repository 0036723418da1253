"""The branch workbook's layout as plain data: sheets, columns, zh/en headers, types.

Readers and writers (openpyxl on the server, xlwings macros in the add-in) use
these definitions; nothing here touches a file.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from complaints.enums import (
    Category,
    Channel,
    Effect,
    Fishbone,
    Grade,
    Labelled,
    Level,
    LogKind,
    MeasureStatus,
    Satisfaction,
    Status,
)
from complaints.sla import DEFAULT_TZ


class ColType(StrEnum):
    TEXT = "text"
    DATETIME = "datetime"
    DATE = "date"
    INT = "int"
    BOOL = "bool"
    ENUM = "enum"
    FLAGS = "flags"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    en: str
    type: ColType = ColType.TEXT
    required: bool = False
    computed: bool = False
    enum: type[Labelled] | None = None
    width: int = 14
    hidden: bool = False

    def header(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True, slots=True)
class Sheet:
    key: str
    zh: str
    en: str
    columns: tuple[Column, ...]
    hidden: bool = False

    def title(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def headers(self, lang: str = "zh") -> list[str]:
        return [c.header(lang) for c in self.columns]

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(c.key for c in self.columns)

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)

    def match_header(self, text: str) -> Column | None:
        """The column whose zh or en header (or key) is ``text``, ignoring case and blanks."""
        wanted = text.strip().casefold()
        for c in self.columns:
            if wanted in (c.zh.casefold(), c.en.casefold(), c.key.casefold()):
                return c
        return None


T, DT, D, N, B, E, F = (
    ColType.TEXT,
    ColType.DATETIME,
    ColType.DATE,
    ColType.INT,
    ColType.BOOL,
    ColType.ENUM,
    ColType.FLAGS,
)

TICKETS = Sheet(
    "tickets",
    "投诉单",
    "Tickets",
    (
        Column("ticket_id", "投诉编号", "Ticket ID", T, required=True, width=18),
        Column("received_at", "受理时间", "Received at", DT, required=True, width=17),
        Column("channel", "受理渠道", "Channel", E, required=True, enum=Channel),
        Column("customer_name", "客户姓名", "Customer name", T, required=True),
        Column("contact", "联系电话", "Contact", T, required=True, width=15),
        Column("preferred_channel", "首选反馈渠道", "Preferred channel", T),
        Column("category", "投诉类别", "Category", E, required=True, enum=Category, width=16),
        Column("place", "问题地点", "Place", T, width=18),
        Column("problem_time", "问题发生时间", "Problem time", T),
        Column("service", "涉及业务/人员", "Service or staff", T, width=18),
        Column("description", "问题描述", "Description", T, required=True, width=40),
        Column("expectation", "诉求期望", "Expectation", T, width=24),
        Column("grade", "严重程度", "Grade", E, enum=Grade, width=10),
        Column("level", "预警等级", "Warning level", E, enum=Level, width=10),
        Column("level_reason", "升级/降级原因", "Escalation reason", T, width=24),
        Column("media_exposure", "媒体曝光", "Media exposure", B, width=10),
        Column("regulator_involved", "监管介入", "Regulator involved", B, width=10),
        Column("emergency_plan_at", "应急预案启动时间", "Emergency plan started at", DT, width=17),
        Column("legal_review_at", "法务审核时间", "Legal review at", DT, width=17),
        Column("external_statement_at", "对外口径发布时间", "External statement at", DT, width=17),
        Column("acknowledged_at", "首次响应时间", "Acknowledged at", DT, width=17),
        Column("routed_at", "分派时间", "Routed at", DT, width=17),
        Column("department", "责任部门", "Department", T),
        Column("investigator", "调查人", "Investigator", T),
        Column("dept_feedback_due", "部门反馈时限", "Dept. feedback due", DT, width=17),
        Column("dept_feedback_at", "部门反馈时间", "Dept. feedback at", DT, width=17),
        Column("plan_at", "方案沟通时间", "Plan communicated at", DT, width=17),
        Column("extension_requested_at", "延期申请时间", "Extension requested at", DT, width=17),
        Column("extension_reason", "延期原因", "Extension reason", T, width=20),
        Column("extension_customer_informed", "已告知客户延期", "Customer told of extension", B),
        Column("extension_until", "延期至", "Extended until", DT, width=17),
        Column("promised_at", "承诺完成时间", "Promised by", DT, width=17),
        Column("resolved_at", "处理完成时间", "Resolved at", DT, width=17),
        Column("feedback_at", "结果反馈时间", "Feedback at", DT, width=17),
        Column("feedback_channel", "反馈渠道", "Feedback channel", T),
        Column("cause", "原因", "Cause", T, width=24),
        Column("solution", "解决方案", "Solution", T, width=24),
        Column("safeguards", "后续保障", "Safeguards", T, width=24),
        Column("compensation", "补偿承诺", "Compensation promised", T, width=24),
        Column("closed_at", "闭环时间", "Closed at", DT, width=17),
        Column("revisited_at", "回访时间", "Revisited at", DT, width=17),
        Column("satisfaction", "满意度", "Satisfaction", E, enum=Satisfaction),
        Column("suggestions", "客户建议", "Suggestions", T, width=24),
        Column("objection_count", "异议次数", "Objections", N, width=8),
        Column("objection_demand", "新诉求", "New demand", T, width=24),
        Column("cancelled_at", "撤销时间", "Cancelled at", DT, width=17),
        Column("cancel_reason", "撤销原因", "Cancellation reason", T, width=20),
        Column("fishbone", "根因类别", "Root-cause category", E, enum=Fishbone, width=14),
        Column("root_cause", "根本原因", "Root cause", T, width=24),
        Column("improvement", "改进措施", "Improvement", T, width=24),
        Column("improvement_done", "改进已落实", "Improvement done", B),
        Column("measure_owner", "措施责任人", "Measure owner", T),
        Column("measure_due", "措施完成期限", "Measure due", D, width=12),
        Column("measure_status", "措施状态", "Measure status", E, enum=MeasureStatus, width=10),
        Column("measure_done_at", "措施完成时间", "Measure done at", DT, width=17),
        Column("training_case", "培训案例", "Training case", B),
        Column("coordinator", "投诉管理员", "Coordinator", T),
        # the plan's text (a group's is shared by its members: `complaints.groups`)
        Column("plan", "方案内容", "Plan", T, width=30),
        Column("status", "状态", "Status", E, computed=True, enum=Status),
        Column("flags", "预警标记", "Flags", F, computed=True, width=30),
        Column("ack_due", "响应时限", "Acknowledge by", DT, computed=True, width=17),
        Column("plan_due", "方案时限", "Plan due", DT, computed=True, width=17),
        Column("resolve_due", "处理时限", "Resolve by", DT, computed=True, width=17),
        Column("feedback_due", "反馈时限", "Feedback due", DT, computed=True, width=17),
        Column("revisit_from", "回访开始", "Revisit from", DT, computed=True, width=17),
        Column("revisit_until", "回访截止", "Revisit until", DT, computed=True, width=17),
        Column("appeal_risk_at", "申诉风险时间", "Appeal risk at", DT, computed=True, width=17),
        Column("escalated_to", "升级至负责人", "Escalated to", T, computed=True),
        Column("escalated_at", "升级时间", "Escalated at", DT, computed=True, width=17),
        Column("group_id", "群体事件编号", "Group incident", T, computed=True),
        Column("level_basis", "预警依据", "Level basis", T, computed=True, hidden=True),
        Column("reopened_at", "重新处理时间", "Reopened at", DT, computed=True, width=17),
        Column("imported_at", "台账导入时间", "Imported from ledger", DT, computed=True, width=17),
        Column("recurred_at", "原因复发时间", "Cause recurred at", DT, computed=True, width=17),
        Column("effect", "改进成效", "Measure effect", E, computed=True, enum=Effect, width=10),
        Column("version", "版本", "Version", N, computed=True, hidden=True),
        Column("sync_key", "同步键", "Sync key", T, computed=True, hidden=True, width=34),
    ),
)

TASKS = Sheet(
    "tasks",
    "任务",
    "Tasks",
    (
        Column("ticket_id", "投诉编号", "Ticket ID", T, required=True, width=18),
        Column("task_no", "序号", "No.", N, required=True, width=6),
        Column("title", "任务", "Task", T, required=True, width=30),
        Column("owner", "责任人", "Owner", T),
        Column("due", "完成期限", "Due", D, width=12),
        Column("done_at", "完成时间", "Done at", DT, width=17),
        Column("version", "版本", "Version", N, computed=True, hidden=True),
        Column("sync_key", "同步键", "Sync key", T, computed=True, hidden=True, width=34),
    ),
)

LOG = Sheet(
    "log",
    "日志",
    "Log",
    (
        Column("ticket_id", "投诉编号", "Ticket ID", T, required=True, width=18),
        Column("at", "时间", "At", DT, required=True, width=17),
        Column("kind", "类型", "Kind", E, required=True, enum=LogKind, width=12),
        Column("text", "内容", "Text", T, required=True, width=50),
        Column("author", "记录人", "Author", T),
        Column("channel", "渠道", "Channel", T),
        Column("sync_key", "同步键", "Sync key", T, computed=True, hidden=True, width=34),
    ),
)

ROUTING = Sheet(
    "routing",
    "分派规则",
    "Routing",
    (
        Column("category", "投诉类别", "Category", E, required=True, enum=Category, width=16),
        Column("department", "责任部门", "Department", T, required=True, width=18),
        Column("head", "部门负责人", "Department head", T, width=14),
        Column("head_email", "负责人邮箱", "Head e-mail", T, width=24),
        Column("investigators", "调查人（逗号分隔）", "Investigators (comma-separated)", T, width=30),
    ),
)

SETTINGS = Sheet(
    "settings",
    "设置",
    "Settings",
    (
        Column("label", "项目", "Setting", T, width=20),
        Column("value", "值", "Value", T, width=40),
        Column("key", "键", "Key", T, required=True, computed=True, width=14),
    ),
)

CONFLICTS = Sheet(
    "conflicts",
    "冲突",
    "Conflicts",
    (
        Column("ticket_id", "投诉编号", "Ticket ID", T, required=True, width=18),
        Column("field", "字段", "Field", T, width=18),
        Column("branch_value", "本地值", "Branch value", T, width=30),
        Column("server_value", "服务器值", "Server value", T, width=30),
        Column("detected_at", "发现时间", "Detected at", DT, width=17),
        Column("conflict_id", "冲突编号", "Conflict ID", T, computed=True, hidden=True),
    ),
)

SYNC = Sheet(
    "sync",
    "_sync",
    "_sync",
    (
        Column("key", "key", "key", T, required=True),
        Column("value", "value", "value", T),
    ),
    hidden=True,
)

SHEETS: tuple[Sheet, ...] = (TICKETS, TASKS, LOG, ROUTING, SETTINGS, CONFLICTS, SYNC)

SETTING_KEYS: tuple[tuple[str, str, str], ...] = (
    ("branch", "分支机构编码", "Branch code"),
    ("server_url", "服务器地址", "Server URL"),
    ("language", "语言", "Language"),
    ("timezone", "时区", "Time zone"),
)
"""Settings rows: key, zh label, en label."""


@dataclass(frozen=True, slots=True)
class BranchSettings:
    """The Settings sheet of a branch workbook."""

    branch: str = ""
    server_url: str = ""
    language: str = "zh"
    timezone: str = DEFAULT_TZ

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def sheet_by_title(title: str) -> Sheet | None:
    """The sheet whose zh or en title is ``title``."""
    wanted = title.strip().casefold()
    for s in SHEETS:
        if wanted in (s.zh.casefold(), s.en.casefold()):
            return s
    return None
