"""The dashboard's language (zh by default, en on request) and its UI strings in both.

Enum labels come from the enums' ``.zh``/``.en`` and field names from
`complaints.schema`; this table holds only the words of the pages themselves.
"""

from __future__ import annotations

from flask import g, request

LANGS = ("zh", "en")
LANG_COOKIE = "cd_lang"

STRINGS: dict[str, tuple[str, str]] = {
    "app": ("投诉管理 · 总部看板", "Complaint Desk · Head office"),
    "overview": ("总览", "Overview"),
    "tickets": ("投诉单", "Tickets"),
    "downloads": ("下载", "Downloads"),
    "branch_portal": ("分支机构入口", "Branch portal"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "bad_credentials": (
        "用户名或密码不正确，或该账号无权使用看板。",
        "Wrong username or password, or this account may not use the dashboard.",
    ),
    "signin_throttled": (
        "该账号或该地址的密码错误次数过多，请 {seconds} 秒后再试。",
        "Too many wrong passwords for this account or from this address; try again in {seconds} s.",
    ),
    "bad_next": (
        "跳转地址 next 含有换行或控制字符，无法使用；请从看板的链接重新进入。",
        "The address in next= holds a line break or control character; open the page from a dashboard link.",
    ),
    "sign_in_needed": ("请先登录。", "Please sign in first."),
    "signed_out": ("已退出。", "You are signed out."),
    "csrf_failed": (
        "表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试。",
        "The form expired or did not come from this site (CSRF check failed); reload the page and try again.",
    ),
    "forbidden": (
        "无权访问：看板只对总部和管理员开放。",
        "Forbidden: the dashboard is for head office and administrators only.",
    ),
    "period": ("统计期间", "Period"),
    "from": ("从", "From"),
    "to": ("至", "To"),
    "branch": ("分支机构", "Branch"),
    "all_branches": ("全部分支机构", "All branches"),
    "apply": ("查询", "Apply"),
    "reset": ("重置", "Reset"),
    "by_level": ("按预警等级", "By warning level"),
    "by_status": ("按状态", "By status"),
    "count": ("数量", "Count"),
    "kpis": ("关键指标", "KPIs"),
    "kpi": ("指标", "Indicator"),
    "value": ("数值", "Value"),
    "overall": ("合计", "Overall"),
    "kpis_by_branch": ("分支机构指标", "KPIs by branch"),
    "kpis_by_department": ("部门指标", "KPIs by department"),
    "on_time": ("按时率", "On-time rate"),
    "overdue_by_branch": ("未完结与超时：按分支机构", "Unfinished and overdue by branch"),
    "overdue_by_department": ("未完结与超时：按责任部门", "Unfinished and overdue by department"),
    "local_days": (
        "所选分支机构分处不同时区：每张投诉单按其分支机构的当地日期计入期间。",
        "The branches chosen lie in different time zones: each ticket counts by its branch's local days.",
    ),
    "cancelled_apart": (
        "已撤销的投诉单不计入受理量及其他任何指标。",
        "Cancelled tickets count in no other figure, received included.",
    ),
    "live_only": ("全部（不含已撤销）", "All but cancelled"),
    "with_cancelled": ("全部（含已撤销）", "All, cancelled included"),
    "uncategorised": ("未分类", "Uncategorised"),
    "training": ("培训案例", "Training cases"),
    "unrouted": ("未分派", "Unrouted"),
    "type_distribution": ("类型分布", "Type distribution"),
    "trend_volume": ("月度趋势：受理量与红黄预警", "Monthly trend: received, red and yellow"),
    "trend_rates": (
        "月度趋势：解决率、满意度、闭环及时率",
        "Monthly trend: resolution, satisfaction, closed-loop timeliness",
    ),
    "root_causes": ("根本原因与改进措施", "Root causes and improvement measures"),
    "root_cause": ("根本原因", "Root cause"),
    "measures": ("改进措施", "Improvement measures"),
    "tickets_n": ("投诉单数", "Tickets"),
    "none": ("无", "None"),
    "n_a": ("—", "—"),
    "search": ("搜索", "Search"),
    "search_hint": ("投诉编号、客户姓名或问题描述", "Ticket ID, customer name or description"),
    "status": ("状态", "Status"),
    "level": ("预警等级", "Warning level"),
    "category": ("投诉类别", "Category"),
    "any": ("全部", "Any"),
    "received_from": ("受理日期从", "Received from"),
    "received_to": ("受理日期至", "Received to"),
    "results": ("共 {n} 条", "{n} tickets"),
    "results_more": ("超过 {n} 条", "More than {n} tickets"),
    "first_page": ("首页", "First"),
    "last_page": ("末页", "Last"),
    "previous": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "no_tickets": ("没有符合条件的投诉单。", "No tickets match."),
    "fields": ("字段", "Fields"),
    "history": ("修改历史", "History"),
    "tasks": ("任务", "Tasks"),
    "log": ("日志", "Log"),
    "conflicts": ("未解决冲突", "Open conflicts"),
    "no_history": ("暂无历史记录。", "No history yet."),
    "no_tasks": ("暂无任务。", "No tasks."),
    "no_log": ("暂无日志。", "No log entries."),
    "no_conflicts": ("没有未解决的冲突。", "No open conflicts."),
    "version": ("版本", "Version"),
    "field": ("字段", "Field"),
    "old": ("原值", "Old value"),
    "new": ("新值", "New value"),
    "by": ("修改人", "By"),
    "source": ("来源", "Source"),
    "created": ("新建", "Created"),
    "role_branch": ("分支机构", "branch"),
    "role_head_office": ("总部", "head office"),
    "role_admin": ("管理员", "admin"),
    "role_system": ("系统", "system"),
    "door_api": ("同步接口", "sync API"),
    "door_upload": ("工作簿上传", "workbook upload"),
    "door_dashboard": ("总部看板", "dashboard"),
    "door_scheduler": ("定时检查", "scheduler"),
    "door_demo": ("演示数据", "demo data"),
    "door_portal": ("分支机构入口", "branch portal"),
    "at": ("时间", "At"),
    "escalate": ("总部升级", "Escalate (head office)"),
    "escalate_help": (
        "升级一级预警（蓝→黄→红），原因必填；分支机构下次同步时收到。",
        "Raise the warning one level (blue → yellow → red); a reason is required; "
        "the branch receives it on its next sync.",
    ),
    "reason": ("升级原因", "Reason"),
    "head": ("通知部门负责人", "Department head to notify"),
    "escalate_button": ("升级", "Escalate"),
    "reason_required": ("请填写升级原因。", "Give a reason for the escalation."),
    "escalated": (
        "已升级：{old} → {new}。分支机构下次同步时将收到。",
        "Escalated: {old} → {new}. The branch receives it on its next sync.",
    ),
    "cannot_escalate": ("无法升级：{why}", "Cannot escalate: {why}"),
    "already_red": ("已是红色预警，无法再升级。", "Already red: cannot escalate further."),
    "note": ("总部备注", "Head-office note"),
    "note_help": (
        "写入投诉单日志（内部备注）；分支机构下次同步时收到。",
        "Goes into the ticket's log as an internal note; the branch receives it on its next sync.",
    ),
    "note_text": ("备注内容", "Note"),
    "note_button": ("添加备注", "Add note"),
    "evidence": ("证据", "Evidence"),
    "evidence_help": (
        "通话录音、截图、短信记录、协议等；文件类型按内容识别，只能下载，不在页面中打开。",
        "Call recordings, screenshots, SMS logs, agreements; the type is read from the content; "
        "files are downloaded, never opened in the page.",
    ),
    "evidence_missing": ("还缺少：{kinds}", "Still missing: {kinds}"),
    "evidence_complete": ("证据清单已齐全。", "The evidence checklist is complete."),
    "evidence_none": ("还没有附件。", "No attachments yet."),
    "evidence_file": ("文件", "File"),
    "evidence_kind": ("证据类型", "Kind"),
    "evidence_size": ("大小（字节）", "Size (bytes)"),
    "evidence_button": ("上传证据", "Upload evidence"),
    "evidence_no_file": ("请选择要上传的文件。", "Choose a file to upload."),
    "evidence_added": ("证据已上传。", "The evidence is attached."),
    "evidence_same": (
        "这个文件已经附在本投诉单上（内容相同），没有重复保存。",
        "This file is already attached to this ticket (same content); it was not added twice.",
    ),
    "note_required": ("请填写备注内容。", "Write the note first."),
    "noted": (
        "已添加备注。分支机构下次同步时将收到。",
        "Note added. The branch receives it on its next sync.",
    ),
    "not_found": ("没有这张投诉单。", "No such ticket."),
    "consolidated": ("总部汇总工作簿", "Consolidated workbook"),
    "download_help": (
        "选择分支机构（不选即全部）和受理期间，下载 Excel 工作簿。",
        "Choose branches (none = all) and a period, then download the Excel workbook.",
    ),
    "download": ("下载", "Download"),
    "workbook_language": ("工作簿语言", "Workbook language"),
    "bad_value": (
        "筛选条件“{field}”的值无效：{value}",
        "Filter {field} has a value it does not know: {value}",
    ),
    "bad_date": ("日期格式不正确：{field}（应为 YYYY-MM-DD）", "Bad date in {field} (use YYYY-MM-DD)"),
    "bad_period": ("期间开始日期不能晚于结束日期。", "The period's start is after its end."),
    "date_out_of_range": (
        "{field} 须在 {first} 至 {last} 之间（不含后者）。",
        "{field} must lie between {first} and {last} (excluded).",
    ),
    "out_of_range": ("期间须在 {first} 至 {last} 之间。", "The period must lie between {first} and {last}."),
    "unknown_branch": ("未知分支机构：{code}", "Unknown branch: {code}"),
    "back_to_list": ("返回列表", "Back to the list"),
    "appeals": ("申诉登记", "Appeals"),
    "appeals_help": (
        "经工信部/12300 渠道受理或标记监管介入的投诉：申诉日期、答复时限（处理时限）与状态。",
        "Tickets received through the regulator (MIIT / 12300) or marked regulator-involved: "
        "appeal date, response due (the resolution deadline) and status.",
    ),
    "no_appeals": ("暂无申诉。", "No appeals."),
    "dossier_pdf": ("下载监管卷宗（PDF）", "Regulator dossier (PDF)"),
    "dossier_xlsx": ("可打印表格", "printable sheet"),
    "form_pdf": ("投诉处理单（PDF，一页）", "complaint form (PDF, one page)"),
    "dossier_failed": ("无法生成 PDF 卷宗：", "The PDF dossier could not be made: "),
    "language": ("语言", "Language"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "not_found_page": ("页面不存在。", "Page not found."),
    "pending_calendar": ("待定（节假日未发布）", "pending (calendar not published)"),
    "rate_detail": ("{hits}/{total}", "{hits}/{total}"),
}


def current_lang() -> str:
    """The request's language: ``?lang=`` first, then the cookie, else Chinese."""
    if "lang" not in g:
        asked = request.args.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
        g.lang = asked if asked in LANGS else "zh"
    return g.lang


def t(key: str, **values: object) -> str:
    """The UI string ``key`` in the request's language, with ``{name}`` placeholders filled."""
    zh, en = STRINGS[key]
    text = zh if current_lang() == "zh" else en
    return text.format(**values) if values else text
