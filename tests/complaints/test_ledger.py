"""A branch's own ledger read into tickets: the shapes ledgers come in, their spellings, their problems."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from complaints.calendar import WorkCalendar
from complaints.enums import Category, Channel, Flag, Satisfaction, Status
from complaints.flags import evaluate
from complaints.ledger import ColumnMapping, LedgerSheet, field_for_header, preview_rows, read_ledger
from complaints.ledger_values import read_ledger_date, read_satisfaction
from complaints.lifecycle import derive_status
from complaints.pipeline import settle
from complaints.sla import SlaClock
from tests.factories import local, make_ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
CLOCK = SlaClock(WorkCalendar())
TITLE = ["深圳01分公司2026年投诉台账", None, None, None, None, None, None, None, None]
HEADER = ["序号", "日期", "客户姓名", "联系电话", "投诉内容", "处理结果", "处理人", "是否满意", "类别"]


def read(*sheets, mapping=None, source="台账.xlsx"):
    return read_ledger(
        [LedgerSheet(title, rows) for title, rows in sheets],
        branch="SZ01",
        zone=SHANGHAI,
        now=NOW,
        mapping=mapping,
        source=source,
    )


def texts(problems, lang="en"):
    return [p.text(lang) for p in problems]


def test_title_row_then_headers_then_rows_with_dates_as_text_and_ticks():
    result = read(
        (
            "台账",
            [
                TITLE,
                HEADER,
                [1, "2026.11.3", "张三", "13800138000", "宽带断网", "11月5日换光猫", "李工", "√", "宽带故障"],
                [2, "2026/11/4", "王五", 13900139000.0, "多扣了20元话费", "已退费", "", "×", "资费争议"],
                [3, "2026年11月6日", "赵六", "13700137000", "营业员态度差", "", "", "", "服务态度"],
            ],
        )
    )  # fmt: skip
    assert result.errors == []
    plan = result.plans[0]
    assert plan.header_rows == (2,)
    assert plan.year == 2026
    first, second, third = result.tickets
    assert first.received_at == datetime(2026, 11, 3, tzinfo=SHANGHAI)
    assert first.category is Category.NETWORK_FAULT
    assert (first.resolved_at, first.closed_at, first.revisited_at) == (
        datetime(2026, 11, 5, tzinfo=SHANGHAI),
    ) * 3
    assert first.satisfaction is Satisfaction.SATISFIED
    assert first.investigator == "李工"
    assert first.solution == "11月5日换光猫"
    assert second.contact == "13900139000"  # a number typed as a number keeps its digits
    assert second.resolved_at is None  # a result without a date: still open
    assert second.satisfaction is Satisfaction.DISSATISFIED
    assert third.category is Category.STAFF_ATTITUDE
    assert [t.ticket_id for t in result.tickets] == [
        "SZ01-20261103-0001",
        "SZ01-20261104-0001",
        "SZ01-20261106-0001",
    ]
    assert all(t.imported_at == NOW for t in result.tickets)
    assert "1 row(s) have a result but no date" in " ".join(texts(result.notices))


def test_two_header_rows_under_a_merged_group_label_and_a_header_merged_down():
    # as a CSV saves it: 序号 and 日期 merged down rows 3-4 stand in row 3, 客户信息 over C3:D3 in C3
    result = read(
        (
            "2026",
            [
                TITLE,
                [None] * 9,
                ["序号", "日期", "客户信息", None, "投诉内容", "处理结果", "处理人", "是否满意", "类别"],
                [None, None, "姓名", "电话", None, None, None, None, None],
                [1, "11月3日", "张三", "13800138000", "信号差", "", "", "", "网络故障"],
            ],
        )
    )
    assert result.errors == []
    plan = result.plans[0]
    assert plan.header_rows == (3, 4)
    assert {c.letter: c.field for c in plan.columns}["C"] == "customer_name"
    assert {c.letter: c.header for c in plan.columns}["D"] == "电话"
    assert {c.letter: c.header for c in plan.columns}["C"] == "客户信息 / 姓名"
    (ticket,) = result.tickets
    assert (ticket.customer_name, ticket.contact) == ("张三", "13800138000")
    assert ticket.received_at == datetime(2026, 11, 3, tzinfo=SHANGHAI)  # the year from the title


def test_merged_header_cells_filled_by_the_file_reader_read_the_same():
    result = read(
        (
            "2026",
            [
                TITLE,
                [
                    "序号",
                    "日期",
                    "客户信息",
                    "客户信息",
                    "投诉内容",
                    "处理结果",
                    "处理人",
                    "是否满意",
                    "类别",
                ],
                ["序号", "日期", "姓名", "电话", "投诉内容", "处理结果", "处理人", "是否满意", "类别"],
                [1, "11月3日", "张三", "13800138000", "信号差", "", "", "", "网络故障"],
            ],
        )
    )
    assert result.errors == []
    assert result.plans[0].header_rows[-1] == 3
    (ticket,) = result.tickets
    assert (ticket.customer_name, ticket.contact) == ("张三", "13800138000")


def test_a_first_data_row_whose_words_look_like_headers_is_still_data():
    result = read(
        (
            "台账",
            [
                ["日期", "客户", "投诉内容", "处理结果"],
                ["2026-11-03", "张三", "电话打不通，地址错误", "已处理"],
                ["2026-11-04", "李四", "扣费", ""],
            ],
        ),
        mapping=ColumnMapping(columns={}),
    )
    assert result.plans[0].header_rows == (1,)
    assert [p.row for p in result.errors] == [2, 3]  # both rows read (neither has a phone)


def test_spacer_rows_totals_and_pre_numbered_empty_rows_are_not_tickets():
    result = read(
        (
            "台账",
            [
                TITLE,
                HEADER,
                [1, "2026.11.3", "张三", "13800138000", "断网", "", "", "", ""],
                [None] * 9,
                ["", "  ", None, None, None, None, None, None, None],
                [2, "2026.11.4", "李四", "13800138001", "扣费", "", "", "", ""],
                [3, None, None, None, None, None, None, None, None],
                ["合计", None, None, None, None, None, None, None, None],
            ],
        )
    )
    assert result.errors == []
    assert len(result.tickets) == 2
    assert texts(result.notices, "zh")[-1] == "工作表「台账」第 8 行：合计行，未导入"


def test_columns_without_a_header_are_found_by_their_values():
    result = read(
        (
            "Sheet1",
            [
                ["序号", "", "客户姓名", "", "投诉内容"],
                [1, "2026-11-03", "张三", "138 0013 8000", "断网"],
                [2, "2026-11-04", "李四", "13900139000", "扣费"],
                [3, "2026-11-05", "王五", "13700137000", "态度"],
            ],
        )
    )
    assert result.errors == []
    columns = {c.letter: (c.field, c.how) for c in result.plans[0].columns}
    assert columns["B"] == ("received_at", "values")
    assert columns["D"] == ("contact", "values")


def test_unknown_category_and_channel_are_kept_as_typed_never_dropped():
    result = read(
        (
            "台账",
            [
                ["日期", "客户", "电话", "投诉内容", "类别", "渠道"],
                ["2026-11-03", "张三", "13800138000", "号码被停机", "号码被盗用", "信函"],
                ["2026-11-04", "李四", "13800138001", "态度差", "服务态度", "10000号"],
            ],
        )
    )
    first, second = result.tickets
    assert (first.category, first.channel) == (Category.OTHER, Channel.OTHER)
    note = dict(result.notes)[first.sync_key].text
    assert "category as typed: 号码被盗用" in note and "channel as typed: 信函" in note
    assert second.channel is Channel.HOTLINE
    assert len(result.notices) == 2
    assert result.notices[0].column == "E" and result.notices[1].column == "F"


def test_every_problem_names_sheet_row_and_column_and_nothing_is_half_read():
    result = read(
        (
            "台账",
            [
                TITLE,
                HEADER,
                [1, "2026.13.3", "张三", "13800138000", "断网", "", "", "", ""],
                [2, "2026.11.4", "", "13800138001", "扣费", "", "", "", ""],
                [3, "2027.11.4", "王五", "13800138002", "信号", "", "", "", ""],
                [4, "2026.11.6", "赵六", "13800138003", "信号", "2026.11.1 已处理", "", "", ""],
            ],
        )
    )
    assert [(p.row, p.column) for p in result.errors] == [(3, "B"), (4, "C"), (5, "B"), (6, "F")]
    assert "is not a date that exists" in result.errors[0].en
    assert result.errors[1].zh == "客户姓名为空，投诉受理须填写"
    assert "in the future" in result.errors[2].en
    assert "milestones out of order" in result.errors[3].en
    assert str(result.errors[0]).startswith("工作表「台账」第 3 行 B 列（日期）")


def test_month_and_day_without_any_year_is_an_error_until_the_mapping_gives_one():
    rows = [["日期", "客户", "电话", "投诉内容"], ["11月3日", "张三", "13800138000", "断网"]]
    refused = read(("Sheet1", rows), source="ledger.csv")
    assert "names no year" in refused.errors[0].en
    given = read(("Sheet1", rows), source="ledger.csv", mapping=ColumnMapping(year=2026))
    assert given.tickets[0].received_at == datetime(2026, 11, 3, tzinfo=SHANGHAI)


def test_a_ledger_running_into_january_moves_bare_dates_to_the_next_year():
    rows = [
        ["2025年投诉台账"],
        ["日期", "客户", "电话", "投诉内容"],
        ["12月30日", "张三", "13800138000", "断网"],
        ["1月2日", "李四", "13800138001", "扣费"],
    ]
    result = read(("Sheet1", rows))
    assert [t.received_at.date() for t in result.tickets] == [date(2025, 12, 30), date(2026, 1, 2)]


def test_sync_keys_are_stable_and_identical_rows_still_both_come_in():
    rows = [
        HEADER,
        [1, "2026.11.3", "张三", "13800138000", "断网", "", "", "", ""],
        [1, "2026.11.3", "张三", "13800138000", "断网", "", "", "", ""],
    ]
    once, again = read(("a", rows)), read(("renamed sheet", [[None] * 9, *rows]))
    assert [t.sync_key for t in once.tickets] == [t.sync_key for t in again.tickets]
    assert len({t.sync_key for t in once.tickets}) == 2


def test_a_confirmed_mapping_overrides_detection_by_header_or_letter():
    rows = [
        ["日期", "客户", "电话", "投诉内容", "备注"],
        ["2026-11-03", "张三", "13800138000", "断网", "老客户"],
    ]
    mapping = ColumnMapping({"备注": None, "B": "place"})
    result = read(("Sheet1", rows), mapping=mapping)
    columns = {c.letter: c.field for c in result.plans[0].columns}
    assert columns["E"] is None and columns["B"] == "place"
    assert result.errors[0].en.startswith("Customer name is empty")
    confirmed = mapping.merged(result.plans)
    assert ColumnMapping.from_json(confirmed.to_json()).columns["电话"] == "contact"


def test_preview_masks_phone_numbers_unless_told_otherwise():
    rows = [["日期", "客户", "电话", "投诉内容"], ["2026-11-03", "张三", "13800138000", "请回电13800138000"]]
    result = read(("Sheet1", rows))
    (masked,) = preview_rows(result)
    assert masked["contact"] == "138****8000" and "13800138000" not in masked["description"]
    (full,) = preview_rows(result, masked=False)
    assert full["contact"] == "13800138000"


@pytest.mark.parametrize(
    ("header", "field"),
    [("客户联系电话", "contact"), ("投诉日期（年月日）", "received_at"), ("Customer Name", "customer_name"),
     ("处理 结果", "result"), ("客户信息", None), ("是否满意\n(是/否)", "satisfaction")],
)  # fmt: skip
def test_headers_are_matched_by_synonyms_in_either_language(header, field):
    assert field_for_header(header) == field


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2026.11.3", datetime(2026, 11, 3)), ("2026/11/3 14:20", datetime(2026, 11, 3, 14, 20)),
     ("2026年11月3日", datetime(2026, 11, 3)), ("11月3日", datetime(2026, 11, 3)),
     ("２０２６．１１．３", datetime(2026, 11, 3)),
     (46329, datetime(2026, 11, 3)), (date(2026, 11, 3), datetime(2026, 11, 3))],
)  # fmt: skip
def test_dates_in_the_common_chinese_spellings_and_excel_serials(raw, expected):
    assert read_ledger_date(raw, 2026).moment == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("√", Satisfaction.SATISFIED), ("是", Satisfaction.SATISFIED), ("Y", Satisfaction.SATISFIED),
     ("×", Satisfaction.DISSATISFIED), ("否", Satisfaction.DISSATISFIED),
     ("基本满意", Satisfaction.FAIRLY_SATISFIED),
     ("再说", None)],
)  # fmt: skip
def test_ticks_and_yes_no(raw, expected):
    assert read_satisfaction(raw) is expected


# --- imported history: old tickets do not flood the overdue lists ----------------------------------------


def test_an_imported_open_ticket_raises_no_overdue_flag_for_what_was_due_before_the_import():
    old = {"received_at": local(2026, 3, 2, 9), "imported_at": local(2026, 12, 1, 9)}
    now = local(2026, 12, 4, 9)
    assert evaluate(make_ticket(**old), CLOCK, now).flags & {f for f in Flag if f.is_overdue} == set()
    not_imported = evaluate(make_ticket(received_at=old["received_at"]), CLOCK, now).flags
    assert {Flag.ACK_OVERDUE, Flag.PLAN_OVERDUE, Flag.RESOLVE_OVERDUE, Flag.APPEAL_RISK} <= not_imported


def test_a_clock_still_running_at_the_import_runs_on():
    ticket = make_ticket(received_at=local(2026, 11, 30, 9), imported_at=local(2026, 12, 2, 9))
    flags = evaluate(ticket, CLOCK, local(2026, 12, 4, 9)).flags
    assert Flag.ACK_OVERDUE not in flags  # due 1 Dec 23:59:59, before the import
    assert Flag.PLAN_OVERDUE in flags  # due 3 Dec 23:59:59, after it


def test_a_dissatisfied_revisit_the_ledger_recorded_does_not_reopen_the_ticket():
    result = read(
        ("台账", [HEADER, [1, "2026.3.2", "张三", "13800138000", "断网", "2026.3.4 已修复", "", "×", ""]])
    )
    (ticket,) = result.tickets
    settled = settle(None, ticket, now=NOW, clock=CLOCK, by="ledger")
    assert settled.ticket.status is Status.REVISITED
    assert settled.ticket.reopened_at is None and settled.log == []
    assert derive_status(ticket) is Status.REVISITED
