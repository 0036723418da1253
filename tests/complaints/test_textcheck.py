from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from complaints.model import Ticket
from complaints.textcheck import check_reply, missing_information, vague_description

RECEIVED = datetime(2026, 3, 2, 9, 10, tzinfo=ZoneInfo("Asia/Shanghai"))

COMPLETE = {
    "customer_name": "张伟",
    "contact": "13800138000",
    "problem_time": "2026-03-01 20:00",
    "place": "朝阳区望京小区3号楼",
    "service": "家庭宽带",
    "expectation": "修好宽带并减免当月月费",
    "description": "每天晚上8点后宽带断网，重启光猫无效",
}


def make_ticket(**fields: object) -> Ticket:
    return Ticket(**{"ticket_id": "T-0001", "received_at": RECEIVED, **COMPLETE, **fields})


# missing information


def test_a_complete_ticket_misses_nothing() -> None:
    assert missing_information(make_ticket()) == []


@pytest.mark.parametrize(
    "field",
    ["customer_name", "contact", "problem_time", "place", "service", "expectation", "description"],
)
def test_each_blank_required_field_is_reported(field: str) -> None:
    assert missing_information(make_ticket(**{field: ""})) == [field]


@pytest.mark.parametrize("blank", [" ", "\t\n", "\u3000 "])
def test_whitespace_counts_as_missing(blank: str) -> None:
    assert missing_information(make_ticket(contact=blank)) == ["contact"]


def test_several_missing_fields_are_listed_in_form_order() -> None:
    ticket = make_ticket(expectation="", customer_name="", place="")
    assert missing_information(ticket) == ["customer_name", "place", "expectation"]


def test_a_bare_new_ticket_misses_everything() -> None:
    ticket = Ticket(ticket_id="T-0002", received_at=RECEIVED)
    assert missing_information(ticket) == [
        "customer_name",
        "contact",
        "problem_time",
        "place",
        "service",
        "expectation",
        "description",
    ]


def test_optional_fields_are_not_required() -> None:
    assert missing_information(make_ticket(preferred_channel="", branch="", group_id="")) == []


# vague descriptions


@pytest.mark.parametrize(
    ("text", "topics"),
    [
        ("网络卡", ["situation", "when", "where", "restart"]),
        ("最近网速慢", ["situation", "when", "where", "restart"]),
        ("家里信号不好", ["when", "restart"]),
        ("晚上八点以后网速慢", ["situation", "where", "restart"]),
        ("小区里看视频就卡顿，重启过了", ["when"]),
        ("手机没法用", ["what", "when", "restart"]),
        ("宽带有问题", ["what", "when"]),
        ("乱扣费", ["bill_month", "amount"]),
        ("上个月乱扣费", ["amount"]),
        ("被多扣了30元", ["bill_month"]),
        ("营业员态度不好", ["staff", "where", "when"]),
        ("The internet is slow", ["situation", "when", "where", "restart"]),
        ("Laggy at home every evening", ["situation", "restart"]),
        ("Bad signal in my apartment, even after restarting", ["when"]),
        ("My phone doesn't work", ["what", "when", "restart"]),
        ("My phone doesn’t work", ["what", "when", "restart"]),
        ("I was OVERCHARGED", ["bill_month", "amount"]),
        ("I was overcharged on my March bill", ["amount"]),
        ("The staff were rude", ["staff", "where", "when"]),
        ("Something is wrong with my line", ["what", "when"]),
    ],
)
def test_vague_descriptions_get_the_questions_they_leave_open(text: str, topics: list[str]) -> None:
    assert [follow_up.topic for follow_up in vague_description(text)] == topics


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "每天晚上8点在小区看视频卡顿，重启路由器也没用",
        "3月账单乱扣费50元",
        "3号窗口工号1024的营业员昨天下午在中关村营业厅态度不好",
        "宽带每天晚上断网，光猫显示红灯",
        "Video calls drop every evening at home since Monday; restarting the router did not help",
        "I was overcharged $20 on my March bill",
        "The prudent customer asked us to replace the slowest router at the office by Friday",
    ],
)
def test_specific_or_empty_descriptions_need_no_follow_up(text: str) -> None:
    assert vague_description(text) == []


def test_each_question_is_asked_once_for_the_first_vague_phrase() -> None:
    follow_ups = vague_description("网速慢，网络卡，信号不好")
    assert [(f.trigger, f.topic) for f in follow_ups] == [
        ("网速慢", "situation"),
        ("网速慢", "when"),
        ("网速慢", "where"),
        ("网速慢", "restart"),
    ]


def test_the_trigger_is_the_phrase_as_the_customer_wrote_it() -> None:
    assert {f.trigger for f in vague_description("Internet is SLOW")} == {"SLOW"}


def test_questions_are_offered_in_chinese_and_english() -> None:
    (restart,) = [f for f in vague_description("网络卡") if f.topic == "restart"]
    assert "重启" in restart.question_zh
    assert "restart" in restart.question_en


# replies to customers


@pytest.mark.parametrize(
    ("text", "phrase", "offset"),
    [
        ("我们不能给您退费", "不能", 2),
        ("系统无法修改套餐", "无法", 2),
        ("这项业务不可以办理", "不可以", 4),
        ("这样不行", "不行", 2),
        ("我们也没办法", "没办法", 3),
        ("该费用不予退还", "不予", 3),
        ("您的申请被拒绝了", "拒绝", 5),
        ("Sorry, we can't refund you", "can't", 10),
        ("Sorry, we can’t refund you", "can’t", 10),
        ("We CANNOT change your plan", "CANNOT", 3),
        ("We are unable to waive the fee", "unable to", 7),
        ("It is not possible to refund", "not possible", 6),
        ("We refuse to pay", "refuse", 3),
    ],
)
def test_negative_phrasing_is_found(text: str, phrase: str, offset: int) -> None:
    assert [(i.kind, i.phrase, i.offset) for i in check_reply(text)] == [("negative", phrase, offset)]


@pytest.mark.parametrize(
    ("text", "phrase", "offset"),
    [
        ("我们会尽快处理", "尽快", 3),
        ("我们会尽早给您答复", "尽早", 3),
        ("我们马上处理", "马上处理", 2),
        ("请您稍后留意短信", "稍后", 2),
        ("近期会有结果", "近期", 0),
        ("过几天给您回复", "过几天", 0),
        ("我们会抓紧", "抓紧", 3),
        ("We will fix it as soon as possible", "as soon as possible", 15),
        ("We will call you back ASAP", "ASAP", 22),
        ("We will call you back asap", "asap", 22),
        ("An engineer will visit Soon", "Soon", 23),
        ("Our engineer will call you shortly", "shortly", 27),
        ("The refund will be made in due course", "in due course", 24),
    ],
)
def test_unquantified_promises_are_found(text: str, phrase: str, offset: int) -> None:
    assert [(i.kind, i.phrase, i.offset) for i in check_reply(text)] == [("unquantified", phrase, offset)]


@pytest.mark.parametrize(
    "text",
    [
        "我们会尽快处理，24小时内给您答复",
        "稍后30分钟内给您回电",
        "我们马上处理，预计今天18点前修复",
        "近期（3个工作日内）完成改造",
        "我们会在一个月内尽早完成光纤改造",
        "We will reply as soon as possible, within 24 hours.",
        "An engineer will call you shortly, within 2 hours.",
        "We will get back to you soon, by 6 pm.",
        "We will fix it soon: within three working days.",
    ],
)
def test_promises_with_a_time_limit_nearby_are_fine(text: str) -> None:
    assert check_reply(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "您3天前反馈的问题已收到。我们会尽快处理",
        "Your complaint of 3 days ago was received. We will fix it soon.",
    ],
)
def test_a_number_in_another_sentence_does_not_quantify_a_promise(text: str) -> None:
    assert [i.kind for i in check_reply(text)] == ["unquantified"]


@pytest.mark.parametrize(
    "text",
    [
        "根据您的套餐协议，我们已为您申请50元补偿，将在24小时内到账。",
        "您看能不能接受这个方案？",
        "可不可以请您提供一下账单月份？",
        "Under your agreement we have applied for a 50 yuan credit; it arrives within 24 hours.",
        "After the monsoon the cable was repaired and your line works again.",
    ],
)
def test_good_replies_raise_no_issue(text: str) -> None:
    assert check_reply(text) == []


def test_issues_of_both_kinds_come_in_text_order() -> None:
    issues = check_reply("我们无法马上退费，会尽快处理。We can't promise anything soon.")
    assert [(i.kind, i.phrase, i.offset) for i in issues] == [
        ("negative", "无法", 2),
        ("unquantified", "尽快", 10),
        ("negative", "can't", 18),
        ("unquantified", "soon", 41),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我们不能给您退费", "根据协议"),
        ("We can't refund you", "agreement"),
        ("我们会尽快处理", "24小时内"),
        ("We will reply soon", "within 24 hours"),
    ],
)
def test_suggestions_are_in_the_language_of_the_phrase(text: str, expected: str) -> None:
    (issue,) = check_reply(text)
    assert issue.phrase in issue.suggestion
    assert expected in issue.suggestion
