"""The regulator dossier as a printable sheet (A4 portrait, one page wide) and, through LibreOffice, a PDF.

The content comes whole from `server.services.dossier`; this module only lays it
out. The PDF is the sheet converted by headless LibreOffice, which embeds
(subsetted) the fonts it uses, so the Chinese text prints and extracts as typed.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.worksheet import Worksheet

from server.xlsx.cellformat import escape_text, looks_like_formula
from server.xlsx.printing import Heading, literal, set_up


class Content(Protocol):
    """What a dossier holds (`server.services.dossier.Dossier`): every value already text."""

    @property
    def ticket_id(self) -> str: ...
    @property
    def sync_key(self) -> str: ...
    @property
    def branch(self) -> str: ...
    @property
    def masked(self) -> bool: ...
    @property
    def fields(self) -> list[list[str]]: ...
    @property
    def milestones(self) -> list[list[str]]: ...
    @property
    def history(self) -> list[list[str]]: ...
    @property
    def tasks(self) -> list[list[str]]: ...
    @property
    def log(self) -> list[list[str]]: ...
    @property
    def conflicts(self) -> list[list[str]]: ...
    @property
    def attachments(self) -> list[list[str]]: ...


class Made(Protocol):
    """A dossier with its digest and when it was made (`server.services.dossier.Made`)."""

    @property
    def dossier(self) -> Content: ...
    @property
    def digest(self) -> str: ...
    @property
    def made_at(self) -> str: ...


class Group(Protocol):
    """A group complaint's dossier (`server.services.dossier.GroupDossier`)."""

    @property
    def group_id(self) -> str: ...
    @property
    def masked(self) -> bool: ...
    @property
    def summary(self) -> list[list[str]]: ...
    @property
    def members(self) -> list[list[str]]: ...
    @property
    def dossiers(self) -> list[Content]: ...


class MadeGroup(Protocol):
    """A group's dossier with its one digest (`server.services.dossier.MadeGroup`)."""

    @property
    def group(self) -> Group: ...
    @property
    def digest(self) -> str: ...
    @property
    def made_at(self) -> str: ...


FONT = "Noto Sans CJK SC"
"""A CJK font with both scripts; LibreOffice embeds it in the PDF (Excel substitutes its own if missing)."""
WIDTHS = (17, 6, 18, 26, 26, 16, 16)
"""Columns A–G, sized for the widest table (the history)."""
TITLE = "投诉处理卷宗 Complaint handling dossier"
GROUP_TITLE = "群体投诉卷宗 Group complaint dossier"
FORM_TITLE = "投诉处理单 Complaint form"
SIGNERS = ("调查人 Investigator", "部门负责人 Department head", "投诉管理员 Coordinator")
SECTIONS = {
    "fields": ("工单 Ticket", ("字段 Field", "内容 Value")),
    "milestones": (
        "环节与时限 Milestones and deadlines",
        ("环节 Milestone", "完成 Done at", "时限 Due", "判定 Verdict"),
    ),
    "history": (
        "修改记录 Field history",
        ("时间 When", "版本 Ver.", "字段 Field", "原值 Old", "新值 New", "修改人 Who", "渠道 Door"),
    ),
    "tasks": ("任务 Tasks", ("序号 No.", "任务 Task", "负责人 Owner", "期限 Due", "完成 Done at")),
    "log": (
        "沟通记录 Communication log",
        ("时间 When", "类型 Kind", "内容 Text", "记录人 Author", "方式 Channel"),
    ),
    "conflicts": (
        "冲突及处理 Conflicts and how they were settled",
        (
            "发现 Detected",
            "字段 Field",
            "分公司值 Branch",
            "服务器值 Server",
            "解决 Settled",
            "结果 Outcome",
            "处理人 By",
        ),
    ),
    "attachments": (
        "附件及哈希 Attachments and their hashes",
        ("时间 When", "文件 File", "类别 Kind", "字节 Bytes", "上传人 By", "SHA-256"),
    ),
}
"""Each table of the dossier: its heading and column headings (zh and en)."""
GROUP_SECTIONS = {
    "summary": ("概况 Summary", ("项目 Item", "内容 Value")),
    "members": (
        "成员 Members",
        (
            "投诉编号 Ticket",
            "客户 Customer",
            "受理 Received",
            "状态 Status",
            "处理完成 Resolved",
            "卷宗摘要 SHA-256",
        ),
    ),
}
"""The group's own tables, on its first sheet before every member's dossier."""
SPANS = {
    "fields": (2, 5),
    "milestones": (3, 1, 1, 2),
    "attachments": (1, 1, 1, 1, 1, 2),
    "summary": (2, 5),
    "members": (1, 2, 1, 1, 1, 1),
}
"""How many sheet columns each table column covers, where not one each (narrow tables stretch across)."""
BODY = Font(name=FONT, size=9)
BOLD = Font(name=FONT, size=9, bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
THIN = Side(style="thin", color="999999")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")


class RenderError(Exception):
    """The PDF could not be made (LibreOffice missing or failing)."""


def workbook_bytes(*dossiers: Made, form: bool = False) -> bytes:
    """The dossiers of one or more tickets as a workbook set up to print on A4, a sheet each.

    ``form``: each ticket's one-page complaint form (投诉处理单) instead of its whole dossier.
    """
    wb = Workbook()
    wb.remove(wb.active)
    for made in dossiers:
        if form:
            _form_sheet(wb.create_sheet(_title("处理单", made.dossier.ticket_id)), made)
        else:
            _sheet(wb.create_sheet(_title("卷宗", made.dossier.ticket_id)), made.dossier, made.made_at)
            _integrity(wb.worksheets[-1], footer_lines(made))
    return _saved(wb)


def group_workbook_bytes(made: MadeGroup) -> bytes:
    """A group's dossier: its summary and members with the one digest, then each member's dossier."""
    wb = Workbook()
    ws = wb.active
    ws.title = _title("群体投诉", made.group.group_id)
    _group_sheet(ws, made)
    for dossier in made.group.dossiers:
        _sheet(wb.create_sheet(_title("卷宗", dossier.ticket_id)), dossier, made.made_at)
    return _saved(wb)


def _title(name: str, ticket: str) -> str:
    """A sheet title Excel accepts (openpyxl numbers a repeated one)."""
    return re.sub(r"[\[\]:*?/\\]", "_", f"{name} {ticket}")[:31]


def _saved(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _group_sheet(ws: Worksheet, made: MadeGroup) -> None:
    _widths(ws)
    g = made.group
    _heading(
        ws,
        f"{GROUP_TITLE} · {g.group_id}",
        f"成员 {len(g.dossiers)} 张投诉单，各自的完整卷宗见其后各页 / "
        f"{len(g.dossiers)} member tickets; each one's whole dossier follows",
    )
    for key, rows in (("summary", g.summary), ("members", g.members)):
        heading, columns = GROUP_SECTIONS[key]
        _section(ws, heading)
        _table(ws, columns, rows, SPANS.get(key))
    _integrity(ws, group_footer_lines(made))
    set_up(
        ws,
        Heading(f"{literal(g.group_id)} · {GROUP_TITLE}", literal(made.made_at), "zh"),
        title_rows=None,
        area=f"A1:G{ws.max_row}",
        landscape=False,
    )


def _widths(ws: Worksheet) -> None:
    for i, width in enumerate(WIDTHS):
        ws.column_dimensions[chr(ord("A") + i)].width = width


def _heading(ws: Worksheet, title: str, line: str) -> None:
    ws.append([_text(title)])
    ws.cell(1, 1).font = Font(name=FONT, size=14, bold=True)
    ws.append([_text(line)])
    ws.cell(2, 1).font = BODY


def _integrity(ws: Worksheet, lines: list[str]) -> None:
    """The closing section a verify reads back (its print area grows to hold it)."""
    _section(ws, "完整性 Integrity")
    for text in lines:
        _line(ws, text)
    ws.print_area = f"A1:G{ws.max_row}"


def _sheet(ws: Worksheet, d: Content, made_at: str) -> None:
    """A ticket's whole dossier; the caller adds the integrity section (a group has one for all)."""
    _widths(ws)
    _heading(ws, f"{TITLE} · {d.ticket_id}", f"分公司 Branch: {d.branch}    同步键 Sync key: {d.sync_key}")
    tables = {
        "fields": d.fields,
        "milestones": d.milestones,
        "history": d.history,
        "tasks": d.tasks,
        "log": d.log,
        "conflicts": d.conflicts,
        "attachments": d.attachments,
    }
    for key, rows in tables.items():
        heading, columns = SECTIONS[key]
        _section(ws, heading)
        _table(ws, columns, rows or [["无 None"]], SPANS.get(key))
    set_up(
        ws,
        Heading(f"{literal(d.branch)} · {literal(d.ticket_id)}", literal(made_at), "zh"),
        title_rows=None,
        area=f"A1:G{ws.max_row}",
        landscape=False,
    )


def _form_sheet(ws: Worksheet, made: Made) -> None:
    """The complaint form: the ticket, its milestones with deadlines and verdicts, signatures; one page."""
    _widths(ws)
    d = made.dossier
    _heading(ws, f"{FORM_TITLE} · {d.ticket_id}", f"分公司 Branch: {d.branch}")
    for key in ("fields", "milestones"):
        heading, columns = SECTIONS[key]
        _section(ws, heading)
        _table(ws, columns, getattr(d, key) or [["无 None"]], SPANS.get(key))
    _section(ws, "签字 Signatures")
    for role in SIGNERS:
        _line(ws, f"{role}：＿＿＿＿＿＿＿＿＿＿    日期 Date：＿＿＿＿＿＿")
    _line(ws, f"卷宗摘要 Dossier SHA-256: {made.digest}")
    set_up(
        ws,
        Heading(f"{literal(d.branch)} · {FORM_TITLE}", literal(made.made_at), "zh"),
        title_rows=None,
        area=f"A1:G{ws.max_row}",
        pages_high=1,
        landscape=False,
    )


def footer_lines(made: Made) -> list[str]:
    """The lines `verify` reads back: the digest, the ticket key, the masking; and when it was made."""
    return [
        f"SHA-256: {made.digest}",
        f"生成时间 Made at: {made.made_at}（不计入摘要 not part of the digest）",
        f"工单键 Ticket key: {made.dossier.sync_key}",
        f"号码遮蔽 Phones masked: {'yes' if made.dossier.masked else 'no'}",
        "核验 Verify: flask --app server dossier verify FILE",
    ]


def group_footer_lines(made: MadeGroup) -> list[str]:
    """The group's one digest, what it covers, the group id and the masking; and when it was made."""
    return [
        f"SHA-256: {made.digest}",
        "摘要覆盖概况、成员表及全部成员卷宗 / The digest covers the summary, the members "
        "and every member's dossier",
        f"生成时间 Made at: {made.made_at}（不计入摘要 not part of the digest）",
        f"群体投诉 Group complaint: {made.group.group_id}",
        f"号码遮蔽 Phones masked: {'yes' if made.group.masked else 'no'}",
        "核验 Verify: flask --app server dossier verify FILE",
    ]


def _section(ws: Worksheet, heading: str) -> None:
    ws.append([])
    ws.append([heading])
    ws.cell(ws.max_row, 1).font = Font(name=FONT, size=11, bold=True)


def _text(value: str) -> str:
    """Text as a cell holds it: control characters escaped (readers decode them back)."""
    return escape_text(value)


def _line(ws: Worksheet, text: str) -> None:
    ws.append([_text(text)])
    r = ws.max_row
    ws.merge_cells(start_row=r, start_column=1, end_row=r, end_column=len(WIDTHS))
    ws.cell(r, 1).font = BODY
    ws.cell(r, 1).alignment = WRAP


def _table(
    ws: Worksheet, columns: tuple[str, ...], rows: list[list[str]], spans: tuple[int, ...] | None
) -> None:
    spans = spans or (1,) * len(columns)
    for values, font in [(list(columns), BOLD), *((r, BODY) for r in rows)]:
        r = ws.max_row + 1
        col = 1
        longest = 0
        for i, span in enumerate(spans):
            value = values[i] if i < len(values) else ""
            cell = ws.cell(r, col, _text(value))
            cell.data_type = "s"  # never a formula, whatever a customer's text starts with
            cell.quotePrefix = looks_like_formula(value)
            cell.font, cell.alignment, cell.border = font, WRAP, BOX
            if font is BOLD:
                cell.fill = HEAD_FILL
            if span > 1:
                ws.merge_cells(start_row=r, start_column=col, end_row=r, end_column=col + span - 1)
            width = sum(WIDTHS[col - 1 : col - 1 + span])
            longest = max(longest, *(_lines(part, width) for part in str(value).split("\n")))
            col += span
        ws.row_dimensions[r].height = 12 * max(1, longest) + 2


def _lines(text: str, width: int) -> int:
    """Printed lines of ``text`` in a column ``width`` characters wide (9 pt text; a CJK character is two).

    LibreOffice does not grow a row for wrapped text in merged cells, so the sheet sets the heights.
    """
    size = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    return max(1, -(-size // int(width * 1.2)))


def pdf_bytes(*dossiers: Made, form: bool = False) -> bytes:
    """The dossiers (or ``form``s) as PDF: the printable sheets converted by headless LibreOffice."""
    return _pdf(workbook_bytes(*dossiers, form=form))


def group_pdf_bytes(made: MadeGroup) -> bytes:
    """A group's dossier as one PDF: the summary page first, then every member's dossier."""
    return _pdf(group_workbook_bytes(made))


def _pdf(sheet: bytes) -> bytes:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise RenderError("未安装 LibreOffice，无法生成 PDF / LibreOffice (soffice) is not installed: no PDF")
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "dossier.xlsx"
        source.write_bytes(sheet)
        done = subprocess.run(
            [
                soffice,
                f"-env:UserInstallation=file://{work}/profile",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                work,
                str(source),
            ],
            capture_output=True,
            timeout=180,
            env={**os.environ, "HOME": work},
            check=False,
        )
        target = Path(work) / "dossier.pdf"
        if done.returncode != 0 or not target.exists():
            raise RenderError(
                f"LibreOffice 转换失败 / LibreOffice failed: {done.stderr.decode(errors='replace')[-300:]}"
            )
        return target.read_bytes()
