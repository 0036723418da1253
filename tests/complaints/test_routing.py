from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from complaints.enums import Category
from complaints.model import Ticket
from complaints.routing import (
    COMPLAINT_POST,
    RoundRobin,
    RoutingError,
    RoutingRule,
    RoutingTable,
    default_routing_table,
    head_rule,
    route,
    route_many,
    split_investigators,
)

SH = ZoneInfo("Asia/Shanghai")
# Friday 9 October 2026, the second working day after the National Day holiday
NOW = datetime(2026, 10, 9, 9, 10, tzinfo=SH)
RECEIVED = datetime(2026, 10, 8, 16, 30, tzinfo=SH)

NET = ("网络部-调查员1", "网络部-调查员2", "网络部-调查员3")


def make_ticket(**fields) -> Ticket:
    fields.setdefault("ticket_id", "SZ01-20261008-001")
    fields.setdefault("received_at", RECEIVED)
    fields.setdefault("branch", "SZ01")
    fields.setdefault("category", Category.NETWORK_FAULT)
    return Ticket(**fields)


def make_tickets(n: int, category: Category = Category.NETWORK_FAULT) -> list[Ticket]:
    return [make_ticket(ticket_id=f"SZ01-20261008-{i:03d}", category=category) for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("category", "department"),
    [
        (Category.NETWORK_FAULT, "网络部"),
        (Category.BILLING_DISPUTE, "市场部"),
        (Category.STAFF_ATTITUDE, "服务管理部"),
        (Category.HANDLING_ERROR, "服务管理部"),
        (Category.PRODUCT_TERMS, "市场部"),
        (Category.OTHER, "投诉管理岗"),
    ],
)
def test_default_table_routes_each_category_to_the_standard_department(category, department):
    result = route(make_ticket(category=category), default_routing_table(), {}, NOW, RoundRobin())

    assert result.department == department
    assert result.investigator.startswith(f"{department}-调查员")
    assert result.head == f"{department}负责人"


def test_default_table_has_placeholder_investigators_and_a_rule_for_every_category():
    table = default_routing_table()

    assert set(table.rules) == set(Category)
    assert table.rules[Category.NETWORK_FAULT].investigators == NET
    assert table.coordination_post().department == COMPLAINT_POST


def test_route_picks_the_investigator_with_fewest_open_tickets():
    counts = {NET[0]: 3, NET[1]: 1, NET[2]: 2}

    result = route(make_ticket(), default_routing_table(), counts, NOW, RoundRobin())

    assert result.investigator == "网络部-调查员2"


def test_investigator_missing_from_open_counts_has_no_open_tickets():
    counts = {NET[0]: 1, NET[1]: 1}

    result = route(make_ticket(), default_routing_table(), counts, NOW, RoundRobin())

    assert result.investigator == "网络部-调查员3"


def test_repeated_ties_rotate_round_robin_through_the_department():
    table, cursor = default_routing_table(), RoundRobin()

    picks = [route(make_ticket(), table, {}, NOW, cursor).investigator for _ in range(4)]

    assert picks == ["网络部-调查员1", "网络部-调查员2", "网络部-调查员3", "网络部-调查员1"]
    assert cursor.last == {"网络部": "网络部-调查员1"}


def test_tie_goes_to_the_next_tied_investigator_after_the_last_pick():
    counts = {NET[0]: 0, NET[1]: 5, NET[2]: 0}
    cursor = RoundRobin({"网络部": "网络部-调查员1"})

    first = route(make_ticket(), default_routing_table(), counts, NOW, cursor)
    second = route(make_ticket(), default_routing_table(), counts, NOW, cursor)

    assert [first.investigator, second.investigator] == ["网络部-调查员3", "网络部-调查员1"]


def test_round_robin_is_remembered_per_department():
    table, cursor = default_routing_table(), RoundRobin()
    route(make_ticket(), table, {}, NOW, cursor)

    billing = route(make_ticket(category=Category.BILLING_DISPUTE), table, {}, NOW, cursor)

    assert billing.investigator == "市场部-调查员1"
    assert cursor.last == {"网络部": "网络部-调查员1", "市场部": "市场部-调查员1"}


def test_categories_sharing_a_department_share_its_rotation():
    table, cursor = default_routing_table(), RoundRobin()

    attitude = route(make_ticket(category=Category.STAFF_ATTITUDE), table, {}, NOW, cursor)
    error = route(make_ticket(category=Category.HANDLING_ERROR), table, {}, NOW, cursor)

    assert [attitude.investigator, error.investigator] == ["服务管理部-调查员1", "服务管理部-调查员2"]


def test_routing_records_time_and_head_and_fills_the_ticket_only_when_applied():
    ticket = make_ticket()

    result = route(ticket, default_routing_table(), {}, NOW, RoundRobin())

    assert (result.routed_at, result.head, result.cross_department) == (NOW, "网络部负责人", False)
    assert (ticket.department, ticket.investigator, ticket.routed_at) == ("", "", None)
    result.apply(ticket)
    assert (ticket.department, ticket.investigator, ticket.routed_at) == ("网络部", "网络部-调查员1", NOW)
    assert ticket.dept_feedback_due is None


def test_routing_result_cannot_be_applied_to_another_ticket():
    result = route(make_ticket(), default_routing_table(), {}, NOW, RoundRobin())

    with pytest.raises(ValueError, match="SZ01-20261008-999"):
        result.apply(make_ticket(ticket_id="SZ01-20261008-999"))


def test_routing_a_batch_of_six_spreads_them_two_each_over_three_investigators():
    results = route_many(make_tickets(6), default_routing_table(), {}, NOW, RoundRobin())

    assert Counter(r.investigator for r in results) == {NET[0]: 2, NET[1]: 2, NET[2]: 2}
    assert all(r.routed_at == NOW for r in results)


def test_routing_a_batch_fills_the_least_loaded_investigators_first():
    counts = {NET[0]: 2, NET[1]: 0, NET[2]: 1}
    cursor = RoundRobin()

    results = route_many(make_tickets(3), default_routing_table(), counts, NOW, cursor)

    # 调查员2 has none → takes one; then 2 and 3 tie at 1 → 3 after 2; then 2 is alone lowest
    assert [r.investigator for r in results] == [NET[1], NET[2], NET[1]]
    assert counts == {NET[0]: 2, NET[1]: 0, NET[2]: 1}
    assert cursor.last == {"网络部": NET[1]}


def test_a_batch_with_an_unroutable_ticket_routes_nothing_and_names_the_ticket():
    tickets = make_tickets(2)
    tickets.append(make_ticket(ticket_id="SZ01-20261008-003", category=None))
    cursor = RoundRobin({"网络部": NET[2]})

    with pytest.raises(RoutingError, match="SZ01-20261008-003"):
        route_many(tickets, default_routing_table(), {}, NOW, cursor)

    assert cursor.last == {"网络部": NET[2]}


def test_problem_touching_another_department_goes_to_the_complaint_management_post():
    result = route(make_ticket(), default_routing_table(), {}, NOW, RoundRobin(), departments=["市场部"])

    assert result.department == "投诉管理岗"
    assert result.investigator == "投诉管理岗-调查员1"
    assert result.cross_department is True
    assert result.category is Category.NETWORK_FAULT


def test_naming_only_the_categorys_own_department_is_not_cross_department():
    result = route(
        make_ticket(), default_routing_table(), {}, NOW, RoundRobin(), departments=[" 网络部 ", ""]
    )

    assert (result.department, result.cross_department) == ("网络部", False)


def test_batch_routes_a_cross_department_ticket_to_the_post():
    tickets = make_tickets(2)

    results = route_many(
        tickets,
        default_routing_table(),
        {},
        NOW,
        RoundRobin(),
        departments={"SZ01-20261008-002": ["服务管理部"]},
    )

    assert [r.department for r in results] == ["网络部", "投诉管理岗"]


def test_explicit_post_takes_cross_department_problems_instead_of_the_other_rule():
    post = RoutingRule(Category.OTHER, "客户服务中心", head="陈主任", investigators=("中心-专员1",))
    table = RoutingTable(default_routing_table().rules, post=post)

    result = route(make_ticket(), table, {}, NOW, RoundRobin(), departments=["市场部"])

    assert (result.department, result.investigator, result.head) == ("客户服务中心", "中心-专员1", "陈主任")


def _table_without(category: Category) -> RoutingTable:
    return RoutingTable({c: r for c, r in default_routing_table().rules.items() if c is not category})


def _table_with_empty(category: Category) -> RoutingTable:
    rule = default_routing_table().rules[category]
    return default_routing_table().with_rule(RoutingRule(category, rule.department, rule.head))


@pytest.mark.parametrize(
    ("table", "ticket", "departments", "words"),
    [
        (
            _table_without(Category.PRODUCT_TERMS),
            make_ticket(category=Category.PRODUCT_TERMS),
            (),
            ["产品条款"],
        ),
        (
            _table_with_empty(Category.NETWORK_FAULT),
            make_ticket(),
            (),
            ["网络部", "网络故障", "no investigators"],
        ),
        (_table_without(Category.OTHER), make_ticket(category=Category.OTHER), (), ["其他", "投诉管理岗"]),
        (_table_without(Category.OTHER), make_ticket(), ("市场部",), ["网络故障", "市场部", "投诉管理岗"]),
        (default_routing_table(), make_ticket(category=None), (), ["no category"]),
    ],
    ids=["no-rule", "no-investigators", "no-post", "cross-without-post", "no-category"],
)
def test_unroutable_ticket_raises_a_value_error_that_says_why(table, ticket, departments, words):
    with pytest.raises(RoutingError) as caught:
        route(ticket, table, {}, NOW, RoundRobin(), departments=departments)

    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert ticket.ticket_id in message
    for word in words:
        assert word in message


def test_routing_needs_an_aware_time():
    with pytest.raises(ValueError, match="time zone"):
        route(make_ticket(), default_routing_table(), {}, datetime(2026, 10, 9, 9, 10), RoundRobin())


@pytest.mark.parametrize(
    ("cell", "names"),
    [
        ("张三, 李四", ("张三", "李四")),
        ("张三，李四、王五", ("张三", "李四", "王五")),
        (" 张三 ,, 张三 ,", ("张三",)),
        ("", ()),
    ],
)
def test_investigator_cells_split_on_latin_and_chinese_commas(cell, names):
    assert split_investigators(cell) == names


def test_table_reads_routing_sheet_rows_in_either_language():
    rows = [
        {
            "category": "网络故障",
            "department": "网络部",
            "head": "王工",
            "head_email": "wang@example.com",
            "investigators": "李强，张伟",
        },
        {
            "category": "Tariff / billing dispute",
            "department": "市场部",
            "head": "",
            "head_email": "",
            "investigators": "赵敏",
        },
        {"category": "", "department": "", "head": None, "head_email": None, "investigators": None},
        {
            "category": "other",
            "department": "投诉管理岗",
            "head": "刘岗",
            "head_email": "",
            "investigators": "周洁",
        },
    ]

    table = RoutingTable.from_rows(rows)

    assert set(table.rules) == {Category.NETWORK_FAULT, Category.BILLING_DISPUTE, Category.OTHER}
    assert table.rules[Category.NETWORK_FAULT] == RoutingRule(
        Category.NETWORK_FAULT, "网络部", "王工", "wang@example.com", ("李强", "张伟")
    )
    assert table.coordination_post().head == "刘岗"
    cross = route(make_ticket(), table, {}, NOW, RoundRobin(), departments=["市场部"])
    assert cross.investigator == "周洁"


def test_default_table_survives_a_round_trip_through_the_routing_sheet():
    table = default_routing_table()

    rows = table.to_rows()

    assert rows[0] == {
        "category": "network_fault",
        "department": "网络部",
        "head": "网络部负责人",
        "head_email": "",
        "investigators": "网络部-调查员1, 网络部-调查员2, 网络部-调查员3",
    }
    assert RoutingTable.from_rows(rows) == table


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        (
            [
                {"category": "网络故障", "department": "网络部"},
                {"category": "network_fault", "department": "运维部"},
            ],
            ["网络故障", "two routing rules"],
        ),
        ([{"category": "服务态度", "department": " "}], ["row 1", "服务态度", "no department"]),
        ([{"category": "天气", "department": "网络部"}], ["row 1", "天气"]),
    ],
    ids=["duplicate", "no-department", "unknown-category"],
)
def test_bad_routing_rows_are_rejected_with_the_row_and_category(rows, words):
    with pytest.raises(RoutingError) as caught:
        RoutingTable.from_rows(rows)

    for word in words:
        assert word in str(caught.value)


def test_editing_a_rule_leaves_the_original_table_alone():
    table = default_routing_table()

    edited = table.with_rule(RoutingRule(Category.NETWORK_FAULT, "网络运维中心", investigators=("孙工",)))

    assert route(make_ticket(), edited, {}, NOW, RoundRobin()).department == "网络运维中心"
    assert route(make_ticket(), table, {}, NOW, RoundRobin()).department == "网络部"


# --- the head responsible for a ticket ------------------------------------------------------


def service_table(first_head: str = "") -> RoutingTable:
    """服务管理部 handles two categories; only its second rule may name the head."""
    return RoutingTable.from_rules(
        [
            RoutingRule(Category.STAFF_ATTITUDE, "服务管理部", head=first_head),
            RoutingRule(Category.HANDLING_ERROR, "服务管理部", head="赵主任"),
            RoutingRule(Category.NETWORK_FAULT, "网络部", head="王经理"),
            RoutingRule(Category.OTHER, COMPLAINT_POST, head="投诉管理岗负责人"),
        ]
    )


@pytest.mark.parametrize(
    ("fields", "head"),
    [
        ({"department": "服务管理部", "category": Category.NETWORK_FAULT}, "赵主任"),
        ({"department": " 网络部 ", "category": Category.STAFF_ATTITUDE}, "王经理"),
        ({"department": "", "category": Category.NETWORK_FAULT}, "王经理"),
        ({"department": "后勤部", "category": Category.NETWORK_FAULT}, "王经理"),
        ({"department": "", "category": Category.BILLING_DISPUTE}, "投诉管理岗负责人"),
        ({"department": "", "category": None}, "投诉管理岗负责人"),
    ],
)
def test_the_head_is_the_departments_else_the_categorys_else_the_complaint_post(fields, head):
    assert head_rule(service_table(), make_ticket(**fields)).head == head


def test_a_department_whose_first_rule_names_its_head_keeps_that_one():
    rule = head_rule(service_table("钱主任"), make_ticket(department="服务管理部"))
    assert rule.head == "钱主任"


def test_without_a_post_an_unknown_category_has_no_head():
    table = RoutingTable.from_rules([RoutingRule(Category.NETWORK_FAULT, "网络部", head="王经理")])
    assert head_rule(table, make_ticket(category=Category.BILLING_DISPUTE)) is None
