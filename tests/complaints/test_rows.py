"""The one row reader: rows of plain values, as any engine hands them over, become tickets and problems."""

from __future__ import annotations

from datetime import datetime

import pytest

from complaints.enums import Category, Channel, Flag, Level
from complaints.rows import ReadPolicy, read_book
from complaints.wire import push_task
from tests.factories import SHANGHAI, local

NOW = local(2026, 3, 2, 11, 0)
IMPORT = ReadPolicy(now=NOW, complete=True)
WORK = ReadPolicy(keep_computed=False)

HEAD = [
    "投诉编号",
    "受理时间",
    "受理渠道",
    "客户姓名",
    "联系电话",
    "投诉类别",
    "问题描述",
    "预警标记",
    "同步键",
]
FULL = ["SZ01-20260302-0001", datetime(2026, 3, 2, 9, 10), "客服热线", "张先生", "13800138000", "网络故障",
        "宽带断线", "ACK_OVERDUE", "a" * 32]  # fmt: skip
SETTINGS = [["项目", "值", "键"], ["分支机构编码", "SZ01", "branch"], ["时区", "Asia/Shanghai", "timezone"]]


def read(sheets: dict[str, list[list[object]]], policy: ReadPolicy = IMPORT):
    return read_book(list(sheets), lambda title: sheets[title], policy=policy)


def where(problem) -> tuple[str | None, int | None, str | None, str | None]:
    return problem.sheet, problem.row, problem.column, problem.header


def test_rows_of_values_become_tickets_of_the_settings_branch_in_its_zone():
    book = read({"投诉单": [HEAD, FULL], "设置": SETTINGS})

    (ticket,) = book.tickets
    assert book.problems == [] and book.settings.branch == "SZ01"
    assert (ticket.ticket_id, ticket.branch, ticket.received_at) == (
        "SZ01-20260302-0001",
        "SZ01",
        local(2026, 3, 2, 9, 10),
    )
    assert (ticket.channel, ticket.category, ticket.flags) == (
        Channel.HOTLINE,
        Category.NETWORK_FAULT,
        {Flag.ACK_OVERDUE},
    )
    assert book.rows == {"a" * 32: 2} and book.layouts["tickets"].letter("channel") == "C"


def test_the_header_may_sit_below_a_title_with_columns_in_any_order_and_either_language():
    head = ["Level", "ticket id", "Received at", "客户姓名", "Contact", "Category", "Description", "Channel"]
    rows = [
        ["SZ01 投诉台账"],
        [],
        head,
        ["红", "X-1", "2026-03-02 09:10", "张先生", 13800138000, "网络故障", "断线", "hotline"],
    ]

    (ticket,) = read({"Tickets": rows}, WORK).tickets

    assert (ticket.ticket_id, ticket.level, ticket.received_at) == (
        "X-1",
        Level.RED,
        local(2026, 3, 2, 9, 10),
    )
    assert (ticket.contact, ticket.channel) == ("13800138000", Channel.HOTLINE)


def test_a_ticket_being_typed_is_read_by_the_macros_but_refused_as_an_upload():
    typed = [["投诉编号", "受理时间", "受理渠道", "客户姓名", "联系电话", "投诉类别", "问题描述"],
             ["SZ01-20260302-0001", datetime(2026, 3, 2, 9, 10), "", "", "", "", "   "]]  # fmt: skip

    assert [t.ticket_id for t in read({"投诉单": typed}, WORK).tickets] == ["SZ01-20260302-0001"]
    problems = read({"投诉单": typed}, IMPORT).problems
    assert [where(p) for p in problems] == [
        ("投诉单", 2, letter, header)
        for letter, header in (
            ("C", "受理渠道"),
            ("D", "客户姓名"),
            ("E", "联系电话"),
            ("F", "投诉类别"),
            ("G", "问题描述"),
        )
    ]
    assert problems[0].text("en") == "Sheet '投诉单', row 2, column C (受理渠道): this required cell is empty"
    assert problems[0].text("zh") == "工作表「投诉单」第 2 行 C 列（受理渠道）：此必填单元格为空"


def test_a_cell_that_does_not_fit_is_named_by_sheet_row_column_and_header_in_both_languages():
    bad = [*FULL[:2], "信鸽", *FULL[3:-1], ""]

    (problem,) = read({"Tickets": [HEAD, bad]}, WORK).problems

    assert where(problem) == ("Tickets", 2, "C", "受理渠道")
    assert problem.en.startswith("'信鸽' is not one of: Hotline") and problem.zh.startswith(
        "'信鸽' 不是以下之一：客服热线"
    )


def test_an_upload_refuses_an_event_after_now_but_a_promise_may_lie_ahead():
    rows = [
        [*HEAD, "承诺完成时间"],
        [*FULL[:1], datetime(2026, 3, 2, 12, 0), *FULL[2:], datetime(2026, 3, 9)],
    ]

    (problem,) = read({"投诉单": rows}, IMPORT).problems

    assert where(problem) == ("投诉单", 2, "B", "受理时间")
    assert "2026-03-02 12:00 is in the future" in problem.en and "是将来的时间" in problem.zh
    assert read({"投诉单": rows}, WORK).problems == []  # a macro: the PC's clock may lag the server's


def test_a_copied_row_is_refused_naming_the_row_it_copies():
    problems = read({"投诉单": [HEAD, FULL, FULL]}).problems

    assert [where(p)[:3] for p in problems] == [("投诉单", 3, "A"), ("投诉单", 3, "I")]
    assert "also on row 2" in problems[0].en and "与第 2 行相同" in problems[0].zh


def test_a_misspelt_header_is_taken_for_the_missing_column_it_resembles():
    (problem,) = read({"投诉单": [["投诉编号", "受理时问", *HEAD[2:]], FULL]}).problems

    assert where(problem) == ("投诉单", 1, "B", "受理时问")
    assert "受理时间" in problem.zh and "Received at" in problem.en


def test_a_workbook_without_a_tickets_sheet_names_the_sheets_it_has():
    (problem,) = read({"Sheet1": [["a"]]}).problems

    assert (
        "No 'Tickets' sheet" in problem.en and "Sheet1" in problem.en and "找不到“投诉单”工作表" in problem.zh
    )


def test_the_macros_leave_computed_columns_to_the_rules():
    rows = [HEAD, [*FULL[:-2], "这不是标记", ""]]

    book = read({"投诉单": rows}, WORK)

    assert book.problems == [] and book.tickets[0].flags == frozenset()
    assert [where(p)[:3] for p in read({"投诉单": rows}).problems] == [("投诉单", 2, "H")]


def test_a_row_typed_without_a_sync_key_gets_a_new_one_to_write_back():
    (ticket,) = (book := read({"投诉单": [HEAD, [*FULL[:-1], None]]})).tickets

    assert len(ticket.sync_key) == 32 and book.new_keys == {ticket.sync_key}


def test_routing_problems_are_kept_apart_from_the_rest():
    routing = [
        ["投诉类别", "责任部门", "部门负责人"],
        ["网络故障", "网络部", "王经理"],
        ["电报", "市场部", ""],
    ]

    book = read({"投诉单": [HEAD, FULL], "分派规则": routing})

    assert book.problems == [] and [r.head for r in book.routes] == ["王经理"]
    assert [where(p)[:3] for p in book.routing_problems] == [("分派规则", 3, "A")]


@pytest.mark.parametrize(("zone", "problem"), [("Asia/Tokyo", None), ("Mars/Olympus", "unknown time zone")])
def test_times_are_read_in_the_settings_zone(zone, problem):
    settings = [["项目", "值", "键"], ["时区", zone, "timezone"]]

    book = read({"投诉单": [HEAD, FULL], "设置": settings})

    assert [p.en.split(" '")[0] for p in book.problems] == ([problem] if problem else [])
    expected = datetime(2026, 3, 2, 9, 10, tzinfo=book.settings.zone if problem is None else SHANGHAI)
    assert book.tickets[0].received_at == expected


@pytest.mark.parametrize(
    ("head", "row", "version", "base"),
    [
        (["投诉编号", "序号", "任务", "责任人", "版本"], [FULL[0], 1, "更换光猫", "赵工", 3], 3, 3),
        (["投诉编号", "序号", "任务", "责任人"], [FULL[0], 1, "更换光猫", "赵工"], 0, 1),
    ],
    ids=["version column", "made before the version column"],
)
def test_a_task_is_pushed_on_the_version_its_row_holds_or_on_1_when_unknown(head, row, version, base):
    (task,) = read({"投诉单": [HEAD, FULL], "任务": [head, row]}).tasks

    assert (task.ticket_id, task.task_no, task.owner, task.version) == (FULL[0], 1, "赵工", version)
    assert push_task(task, "b" * 32)["base_version"] == base
