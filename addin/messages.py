"""What the macros say to the coordinator, in Chinese and English.

Every message is a pair of templates under one key; `say` fills both, and the
macro shows the one in the workbook's language (Settings sheet).
"""

from __future__ import annotations

from dataclasses import dataclass

TITLE = {"zh": "投诉管理", "en": "Complaint Desk"}
MAX_LISTED = 10
"""How many rows or problems a message lists before it says "and N more"."""


@dataclass(frozen=True, slots=True)
class Message:
    zh: str
    en: str

    def text(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __add__(self, other: Message) -> Message:
        return Message(f"{self.zh}\n{other.zh}", f"{self.en}\n{other.en}")

    def __str__(self) -> str:
        return f"{self.zh}\n{self.en}"


CATALOGUE: dict[str, tuple[str, str]] = {
    # reading the workbook (the problems themselves come from complaints.rows)
    "problems": (
        "工作簿中有 {count} 处需要先改正，本次未做任何修改：\n{list}",
        "Fix {count} problem(s) in the workbook first; nothing was changed:\n{list}",
    ),
    "more": ("……另有 {count} 处", "… and {count} more"),
    "settings_branch": (
        "“设置”表中没有分支机构编码，请先填写（如 SZ01）。",
        "The Settings sheet has no branch code; fill it in first (e.g. SZ01).",
    ),
    "routing_invalid": ("“分派规则”表有误：\n{error}", "The Routing sheet is wrong:\n{error}"),
    "restored": (
        "\n灰色列由规则计算，请勿手工填写；已恢复 {count} 张投诉单被改写的单元格：\n{list}",
        "\nGrey columns are computed by the rules; do not type there. Put back the overwritten cells of "
        "{count} ticket(s):\n{list}",
    ),
    # selection
    "no_selection": (
        "请先在“{sheet}”表中选中要{action}的投诉单所在行，再点击按钮。",
        "Select the rows of the tickets to {action_en} on the '{sheet}' sheet first, then click the button.",
    ),
    # new ticket
    "new_ticket": (
        "已新建投诉单 {ticket}（第 {row} 行），受理时间 {received}。"
        "请填写渠道、客户、联系电话、类别和问题描述。",
        "New ticket {ticket} (row {row}), received {received}. "
        "Fill in the channel, customer, contact, category and description.",
    ),
    # route
    "route_done": ("已分派 {count} 张投诉单：\n{list}", "Routed {count} ticket(s):\n{list}"),
    "route_line": (
        "{ticket} → {department} / {investigator}，部门反馈时限 {due}",
        "{ticket} → {department} / {investigator}, department feedback due {due}",
    ),
    "route_nothing": ("没有待分派的投诉单。", "No ticket waits to be routed."),
    "route_skipped": (
        "已分派或已处理、已撤销的 {count} 张未改动：{list}",
        "{count} already routed, resolved or cancelled, left alone: {list}",
    ),
    "route_failed": ("无法分派：{error}", "Cannot route: {error}"),
    "pending_calendar": ("待发布节假日", "pending calendar"),
    # escalate / de-escalate
    "level_done": ("已{action} {count} 张投诉单：\n{list}", "{action_en} {count} ticket(s):\n{list}"),
    "level_line": ("{ticket}：{old}→{new}{head}", "{ticket}: {old} → {new}{head}"),
    "level_head": ("，已报 {head}", ", reported to {head}"),
    "level_no_head": (
        "\n注意：“分派规则”表中没有这些投诉单所属部门的负责人：{list}",
        "\nNote: the Routing sheet names no department head for: {list}",
    ),
    "reason_missing": (
        "请先在“{column}”列填写{action}原因：{list}。本次未做任何修改。",
        "Type the reason in the '{column}' column first: {list}. Nothing was changed.",
    ),
    "level_refused": (
        "无法{action}：{list}。本次未做任何修改。",
        "Cannot {action_en}: {list}. Nothing was changed.",
    ),
    "already_red": ("{ticket} 已是红色预警", "{ticket} is already red"),
    "already_blue": ("{ticket} 已是蓝色预警", "{ticket} is already blue"),
    # the process steps (addin/steps.py)
    "step_no_selection": (
        "请先在“{sheet}”表中选中要{step}的投诉单所在行（先在本行填好所需内容），再点击按钮。",
        "Select the rows of the tickets on the '{sheet}' sheet first (with the cells the step needs "
        "filled in), then click {step}.",
    ),
    "step_refused": (
        "无法{step}：\n{list}\n本次未做任何修改。",
        "Cannot record {step}:\n{list}\nNothing was changed.",
    ),
    "step_done": (
        "已为 {count} 张投诉单记录“{step}”（{at}），已写入日志：\n{list}",
        "{step} recorded on {count} ticket(s) at {at}, and logged:\n{list}",
    ),
    "step_line": ("{ticket}：{next}", "{ticket}: {next}"),
    "step_reopened": (
        "（已重新处理，二次调查；预警等级 {level}）",
        " (reopened for a second investigation; warning level {level})",
    ),
    "step_extended": ("（方案时限延至 {due}）", " (plan now due {due})"),
    "step_wording": (
        "\n  措辞提醒：{list}，可点“检查措辞”查看改写建议",
        "\n  Wording: {list}; click Check wording for the suggested rewrite",
    ),
    "remedy": ("\n  {grade}投诉的处理方案：{zh}", "\n  Remedy for a {grade} complaint: {en}"),
    "next_due": ("下一步：{step}，时限 {due}", "next: {step}, due {due}"),
    "next_step": ("下一步：{step}", "next: {step}"),
    "next_window": ("下一步：{step}，{start} 至 {end} 之间", "next: {step}, between {start} and {end}"),
    "next_none": ("流程已结束", "the process is complete"),
    # group incident handled as one (addin/group.py)
    "group_no_selection": (
        "请先在“{sheet}”表中选中群体事件的一行（填好方案内容、补偿决定或在日志中写好进度通报），再点击“群体处理”。",
        "Select a row of a group incident on the '{sheet}' sheet first (with its plan, compensation or a "
        "progress update in the Log), then click Group.",
    ),
    "group_not_grouped": (
        "以下投诉单不属于群体事件，无法群体处理：{list}。本次未做任何修改。",
        "Not in a group incident, so there is no group to handle: {list}. Nothing was changed.",
    ),
    "group_one_row": (
        "群体事件 {group} 选中了多行：每个群体只选一行作为依据。本次未做任何修改。",
        "Several rows of group incident {group} are selected: select one row per group. Nothing was changed.",
    ),
    "group_nothing": (
        "{ticket} 没有可适用的方案内容、补偿决定或进度通报。本次未做任何修改。",
        "{ticket} has no plan, compensation or progress update to apply. Nothing was changed.",
    ),
    "group_plan": ("方案", "plan"),
    "group_compensation": ("补偿决定", "compensation"),
    "group_progress": ("进度通报", "progress update"),
    "group_line": (
        "群体事件 {group}（{count} 名成员）：已按 {ticket} 适用{applied}",
        "Group incident {group} ({count} members): {applied} of {ticket} applied to every member",
    ),
    "group_done": (
        "已群体处理 {count} 个群体事件：\n{list}",
        "Handled {count} group incident(s) as one:\n{list}",
    ),
    # check wording
    "wording_nothing": (
        "请先选中要检查的内容：“{sheet}”表中的投诉单行（检查原因、解决方案、后续保障和延期原因），"
        "或任意表中写有答复草稿的单元格。",
        "Select what to check first: ticket rows on the '{sheet}' sheet (their cause, solution, "
        "safeguards and extension reason), or the cells of any sheet that hold a draft reply.",
    ),
    "wording_clean": (
        "已检查 {count} 段文字，未发现否定表述或未量化的承诺。（见“{sheet}”表）",
        "Checked {count} text(s): no negative phrasing or unquantified promise. (See the '{sheet}' sheet.)",
    ),
    "wording_found": (
        "在 {texts} 段文字中发现 {count} 处需改写，原文和改写建议见“{sheet}”表：\n{list}",
        "{count} phrase(s) to rewrite in {texts} text(s); the text and the suggested rewrite are on "
        "the '{sheet}' sheet:\n{list}",
    ),
    # check deadlines
    "check_done": (
        "检查完成（{count} 张投诉单）：{overdue} 张超时，{today} 张今日到期，{soon} 张即将到期。",
        "Checked {count} ticket(s): {overdue} overdue, {today} due today, {soon} due soon.",
    ),
    "check_raised": ("规则升级 {count} 张：{list}", "Raised by the rules: {count}: {list}"),
    "check_reopened": (
        "回访不满意，已升级并重新处理（二次调查）{count} 张：{list}",
        "Dissatisfied at revisit, escalated and reopened for a second investigation: {count}: {list}",
    ),
    "check_vague": (
        "{count} 张的问题描述含糊，建议追问客户：\n{list}",
        "{count} with a vague description; ask the customer:\n{list}",
    ),
    "check_extension": (
        "{count} 张的延期不成立，方案时限未延：\n{list}",
        "{count} extension(s) refused; the plan deadline stays:\n{list}",
    ),
    "check_pending": (
        "{count} 张的时限待发布节假日（请管理员加载明年的节假日安排）。",
        "{count} with deadlines pending the holiday calendar (ask the administrator to load next year's).",
    ),
    "check_order": (
        "{count} 张的环节时间顺序有误：{list}",
        "{count} with milestones out of order: {list}",
    ),
    # revisit list, monthly summary, consolidated
    "revisit_done": (
        "回访清单：{count} 张待回访（其中 {overdue} 张已超过回访期），见“{sheet}”表。",
        "Revisit list: {count} ticket(s) to revisit ({overdue} past the window); see the '{sheet}' sheet.",
    ),
    "summary_done": ("{month} 月度分析已写入“{sheet}”表。", "The {month} summary is on the '{sheet}' sheet."),
    "consolidated_done": (
        "已下载 {month} 的总部汇总工作簿：{count} 个工作表，从“{sheet}”表开始。",
        "Pulled the consolidated workbook of {month}: {count} sheet(s), starting with '{sheet}'.",
    ),
    # sync
    "sync_done": (
        "同步完成：上传 {sent} 张投诉单（新建 {created}）、{tasks} 项任务、{log} 条日志；"
        "收到 {received} 张投诉单的更新。",
        "Sync done: sent {sent} ticket(s) ({created} new), {tasks} task(s), {log} log entries; "
        "received updates to {received} ticket(s).",
    ),
    "sync_resent": (
        "上次因网络中断未确认的上传已重新发送（未重复）。",
        "The upload left unconfirmed by the last network failure was sent again (nothing duplicated).",
    ),
    "sync_conflicts": (
        "{count} 处冲突（双方都改了同一字段），两边的值都列在“{sheet}”表中，请决定保留哪一个。",
        "{count} conflict(s) (a field changed on both sides): both values are on the '{sheet}' sheet; "
        "decide which to keep.",
    ),
    "sync_renumbered": (
        "服务器已为重号的投诉单改号：{list}",
        "The server renumbered tickets whose number was taken: {list}",
    ),
    "sync_rejected": ("服务器拒收 {count} 行：{list}", "The server refused {count} row(s): {list}"),
    "sync_no_url": (
        "“设置”表中没有服务器地址，请填写（如 https://desk.example.cn）。",
        "The Settings sheet has no server URL; fill it in (e.g. https://desk.example.cn).",
    ),
    "sync_no_token": (
        '没有访问令牌。请把管理员给的令牌写入 {path}（{{"token": "cdt_…"}}），'
        "或设置环境变量 COMPLAINT_DESK_TOKEN。令牌不要写在工作簿里。",
        'No access token. Put the token from your administrator in {path} ({{"token": "cdt_…"}}) '
        "or set the COMPLAINT_DESK_TOKEN environment variable. Never put it in the workbook.",
    ),
    "sync_bad_config": ("无法读取令牌配置文件 {path}：{error}", "Cannot read the token file {path}: {error}"),
    "sync_unreachable": (
        "无法连接服务器 {url}：{error}\n未丢失任何数据：待上传的内容已保存，下次点击“同步”会原样重发。",
        "Cannot reach the server {url}: {error}\n"
        "Nothing was lost: the upload is kept and is sent again, unchanged, at the next Sync.",
    ),
    "pull_unreachable": ("无法连接服务器 {url}：{error}", "Cannot reach the server {url}: {error}"),
    "sync_token_rejected": (
        "服务器拒绝了访问令牌（{detail}）。请向管理员申请新令牌，写入 {path}。本次未做任何修改。",
        "The server rejected the access token ({detail}). Ask your administrator for a new token "
        "and put it in {path}. Nothing was changed.",
    ),
    "sync_refused": (
        "服务器拒绝了同步请求（{status}）：{detail}。本次未做任何修改。",
        "The server refused the sync ({status}): {detail}. Nothing was changed.",
    ),
    "sync_server_error": (
        "服务器出错（{status}）：{detail}\n未丢失任何数据：下次点击“同步”会原样重发。",
        "The server failed ({status}): {detail}\n"
        "Nothing was lost: the upload is sent again at the next Sync.",
    ),
    # dossier
    "dossier_no_selection": (
        "请先在“{sheet}”表中选中一张投诉单所在的行，再点击“投诉档案”。",
        "Select one ticket's row on the '{sheet}' sheet first, then click Dossier.",
    ),
    "dossier_one_only": (
        "投诉档案一次生成一张投诉单，当前选中了 {count} 张（{list}）。请只选中一行。",
        "A dossier is made for one ticket at a time; {count} are selected ({list}). Select one row.",
    ),
    "dossier_not_on_server": (
        "服务器上还没有投诉单 {ticket}（或它不属于本分支机构）。请先点击“同步”，再生成投诉档案。",
        "The server has no ticket {ticket} yet (or it is not your branch's). Click Sync first, then Dossier.",
    ),
    "dossier_refused": (
        "服务器未能提供投诉档案（{status}）：{detail}。本次未做任何修改。",
        "The server could not give the dossier ({status}): {detail}. Nothing was changed.",
    ),
    "dossier_done": (
        "已将投诉单 {ticket} 的投诉档案（服务器记录的全部环节、修改记录、沟通记录与附件哈希）"
        "写入“{sheet}”表，共 {rows} 行{masked}。\n卷宗摘要 SHA-256：{digest}\n"
        "可直接打印该表；上报监管的 PDF 版在总部看板该投诉单页面下载。",
        "Wrote the dossier of {ticket} (the server's whole record: milestones, field history, "
        "communication log, attachment hashes) to the '{sheet}' sheet: {rows} rows{masked}.\n"
        "Dossier SHA-256: {digest}\nPrint that sheet as it is; the PDF for the regulator is on the "
        "ticket's page of the head-office dashboard.",
    ),
    "dossier_masked": ("，电话号码已遮蔽", ", phone numbers masked"),
    "sync_wrong_branch": (
        "此工作簿属于分支机构 {book}，而令牌属于 {token}。本次未做任何修改。",
        "This workbook belongs to branch {book}, but the token is {token}'s. Nothing was changed.",
    ),
}


def say(key: str, **values: object) -> Message:
    """The message ``key`` with ``values`` filled into both languages (a `Message` value in its own)."""
    zh, en = CATALOGUE[key]
    return Message(
        zh.format(**{k: v.zh if isinstance(v, Message) else v for k, v in values.items()}),
        en.format(**{k: v.en if isinstance(v, Message) else v for k, v in values.items()}),
    )


def plain(text: str) -> Message:
    """Text that reads the same in both languages (a ticket number, a name)."""
    return Message(text, text)


def listing(items: list[Message], separator: str = "\n") -> Message:
    """Items joined by ``separator``, at most `MAX_LISTED`, then "and N more"."""
    shown = list(items[:MAX_LISTED])
    rest = len(items) - len(shown)
    if rest > 0:
        shown.append(say("more", count=rest))
    return Message(separator.join(m.zh for m in shown), separator.join(m.en for m in shown))
