"""Text checks of the standard (SUMMARY §2.1, §3): missing acceptance information,
vague descriptions that need follow-up questions, and reply phrasing.

Vocabularies are plain tuples, Chinese and English side by side; both are run on
every text. A phrase containing Latin letters matches case-insensitively on word
boundaries; any other phrase matches as a substring.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Literal, TypeVar

from complaints.model import Ticket

T = TypeVar("T")

REQUIRED_FIELDS: tuple[str, ...] = (
    "customer_name",
    "contact",
    "problem_time",
    "place",
    "service",
    "expectation",
    "description",
)
"""Ticket attributes the acceptance record must fill (name, contact, the problem's
time, place and service or staff involved, the customer's expectation)."""

# topic, question (zh), question (en), pattern of what in a description already answers it
QUESTIONS: tuple[tuple[str, str, str, str], ...] = (
    (
        "situation",
        "在哪些场景下出现（看视频、玩游戏、打电话，还是所有应用）？",
        "In which situations does it happen (video, games, calls, or everything)?",
        r"视频|游戏|电话|通话|微信|直播|下载|上传|网页|导航|支付"
        r"|\b(?:videos?|games?|gaming|calls?|calling|stream\w*|download\w*|upload\w*|browsing|web ?pages?"
        r"|wechat|navigation|payments?)\b",
    ),
    (
        "when",
        "一般在什么时间出现？一直这样还是偶尔？",
        "At what time does it happen? All the time or now and then?",
        r"\d{1,2}\s*[:：]\s*\d{2}|\d+\s*[点时]|\d+\s*[月日]|早上|上午|中午|下午|傍晚|晚上|夜里|夜间|半夜|凌晨"
        r"|白天|每天|天天|昨天|今天|前天|周[一二三四五六日末]|星期[一二三四五六日天]|高峰|上班|下班"
        r"|\b\d{1,2}(?::\d{2})?\s*[ap]\.?m\b|\b(?:mornings?|afternoons?|evenings?|nights?|noon|midnight"
        r"|daily|every ?day|weekends?|weekdays?|(?:mon|tues|wednes|thurs|fri|satur|sun)days?|yesterday"
        r"|today|rush hours?|peak hours?)\b",
    ),
    (
        "where",
        "在什么地点出现（具体地址、小区、楼层或营业厅）？",
        "Where does it happen (address, building, area or business hall)?",
        r"小区|家里|家中|在家|公司|单位|办公室|宿舍|学校|校园|医院|商场|超市|广场|车站|地铁|高铁|机场|酒店"
        r"|营业厅|门店|大街|大道|[路街巷]\d+号|\d+号楼|\d+栋|\d+单元|\d+室"
        r"|\b(?:home|house|apartment|office|subway|metro|street|road|avenue|building|station|mall|school"
        r"|campus|university|hospital|airport|hotel|store|shop|hall|downtown|district|village)s?\b",
    ),
    (
        "restart",
        "是否尝试过重启手机或设备？",
        "Have you tried restarting the phone or device?",
        r"重启|重新启动|开关机|关机|重新开机|飞行模式|恢复出厂"
        r"|\b(?:restart\w*|reboot\w*|turn(?:ed)? (?:it )?off|switch(?:ed)? (?:it )?off|airplane mode"
        r"|flight mode|factory reset|power cycl\w*)\b",
    ),
    (
        "what",
        "具体是什么现象？有没有提示或报错信息？",
        "What exactly happens? Is there an error message?",
        r"断网|掉线|打不[了通出进]|接不[了到通]|收不到|发不[了出]|上不了|登不上|连不上|无法|不能|提示|显示|报错|错误"
        r"|\b(?:drops?|dropped|disconnect\w*|cannot|can't|unable|error|message|shows?|says)\b",
    ),
    (
        "bill_month",
        "是哪个月的账单？",
        "Which month's bill is it?",
        r"\d+\s*月|上上?个?月|本月|这个月|当月"
        r"|\b(?:january|february|march|april|june|july|august|september|october|november|december"
        r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|may(?= bill))\b|\b(?:last|this) month\b"
        r"|\b\d{4}-\d{1,2}\b",
    ),
    (
        "amount",
        "是哪一项费用？金额是多少？",
        "Which charge is it, and how much?",
        r"\d+(?:\.\d+)?\s*(?:元|块|圆)|[¥￥$]\s*\d|\b\d+(?:\.\d+)?\s*(?:yuan|rmb|cny|dollars?|usd)\b"
        r"|\b(?:rmb|cny|usd)\s*\d",
    ),
    (
        "staff",
        "是哪位工作人员（姓名或工号）？",
        "Which member of staff was it (name or staff number)?",
        r"工号|工牌|员工编号|\d+号(?:窗口|柜台|工作人员|营业员|客服)|姓[\u4e00-\u9fff]"
        r"|[\u4e00-\u9fff](?:先生|女士|小姐|经理|师傅)"
        r"|\b(?:staff (?:id|number|no)|employee (?:id|number)|badge|named|mr|mrs|ms"
        r"|counter \d+|window \d+)\b",
    ),
)

_NETWORK = ("situation", "when", "where", "restart")
_SIGNAL = ("when", "where", "restart")
_BROKEN = ("what", "when", "restart")
_UNCLEAR = ("what", "when")
_BILLING = ("bill_month", "amount")
_STAFF = ("staff", "where", "when")

# vague phrase, topics of the follow-up questions it calls for
VAGUE_PHRASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("网络卡", _NETWORK),
    ("网很卡", _NETWORK),
    ("网络很卡", _NETWORK),
    ("卡顿", _NETWORK),
    ("网速慢", _NETWORK),
    ("网速很慢", _NETWORK),
    ("网速太慢", _NETWORK),
    ("上不了网", _NETWORK),
    ("信号不好", _SIGNAL),
    ("信号差", _SIGNAL),
    ("信号很差", _SIGNAL),
    ("没信号", _SIGNAL),
    ("没法用", _BROKEN),
    ("用不了", _BROKEN),
    ("有问题", _UNCLEAR),
    ("乱扣费", _BILLING),
    ("乱收费", _BILLING),
    ("多扣", _BILLING),
    ("扣费不对", _BILLING),
    ("态度不好", _STAFF),
    ("态度差", _STAFF),
    ("态度很差", _STAFF),
    ("slow", _NETWORK),
    ("laggy", _NETWORK),
    ("lagging", _NETWORK),
    ("bad signal", _SIGNAL),
    ("poor signal", _SIGNAL),
    ("weak signal", _SIGNAL),
    ("no signal", _SIGNAL),
    ("doesn't work", _BROKEN),
    ("does not work", _BROKEN),
    ("not working", _BROKEN),
    ("something wrong", _UNCLEAR),
    ("something is wrong", _UNCLEAR),
    ("overcharged", _BILLING),
    ("overcharging", _BILLING),
    ("wrong charge", _BILLING),
    ("rude", _STAFF),
    ("bad attitude", _STAFF),
)

NEGATIVE_PHRASES: tuple[str, ...] = (
    "不能",
    "无法",
    "不可以",
    "不行",
    "没办法",
    "没有办法",
    "不予",
    "拒绝",
    "办不了",
    "做不到",
    "can't",
    "cannot",
    "can not",
    "couldn't",
    "could not",
    "unable to",
    "not able to",
    "not possible",
    "impossible",
    "refuse",
    "refused",
    "won't be able",
)

NOT_NEGATIVE: tuple[str, ...] = ("能不能", "可不可以", "行不行")
"""Questions that contain a negative phrase but offer a choice (您看能不能接受？)."""

UNQUANTIFIED_PROMISES: tuple[str, ...] = (
    "尽快",
    "尽早",
    "马上处理",
    "稍后",
    "近期",
    "过几天",
    "抓紧",
    "晚些时候",
    "as soon as possible",
    "as soon as we can",
    "ASAP",
    "soon",
    "shortly",
    "in due course",
    "in a few days",
    "in the coming days",
)

TIME_LIMIT = re.compile(
    r"(?:\d+|[一二两三四五六七八九十半]+)\s*(?:个\s*半?\s*)?(?:分钟|小时|钟头|工作日|天|日|周|星期)"
    r"|(?:\d+|[一二两三四五六七八九十半]+)\s*个\s*半?\s*月"
    r"|\d+\s*[点时]|今天|今日|明天|明日"
    r"|\b(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|half an?)\s*-?\s*"
    r"(?:minutes?|mins?|hours?|hrs?|h|(?:working |business )?days?|weeks?|months?)\b"
    r"|\b\d{1,2}(?::\d{2})?\s*[ap]\.?m\b|\b\d{1,2}:\d{2}\b|\b(?:today|tonight|tomorrow)\b",
    re.IGNORECASE,
)
"""A quantified commitment: a number with a time unit, a clock time, or a named day."""

NEAR = 32
"""How many characters either side of a promise, within its sentence, count as nearby."""

_SENTENCE_END = re.compile(r"[。！？!?；;\n]|\.(?=\s|$)")

SUGGESTIONS: dict[tuple[str, str], str] = {
    ("negative", "zh"): "把“{phrase}”改为正面表述，说明依据和可行的办法，"
    "例如“根据协议，您的情况可以通过……改善，我来为您申请”。",
    ("negative", "en"): 'Rephrase "{phrase}" positively, with the basis and what can be done, e.g. '
    '"Under your agreement, your case can be improved by …; I will apply for it for you."',
    ("unquantified", "zh"): "把“{phrase}”改为明确的时限，例如“我们将在24小时内给您答复”。",
    ("unquantified", "en"): 'Replace "{phrase}" with a firm time limit, e.g. '
    '"We will get back to you within 24 hours."',
}

ReplyKind = Literal["negative", "unquantified"]

_ANSWERED = {topic: re.compile(pattern, re.IGNORECASE) for topic, _, _, pattern in QUESTIONS}
_QUESTION_TEXT = {topic: (zh, en) for topic, zh, en, _ in QUESTIONS}
_REPLY_VOCABULARY: tuple[tuple[str, ReplyKind | None], ...] = (
    *((phrase, "negative") for phrase in NEGATIVE_PHRASES),
    *((phrase, None) for phrase in NOT_NEGATIVE),
    *((phrase, "unquantified") for phrase in UNQUANTIFIED_PROMISES),
)


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A question to ask the customer because ``trigger`` in the description is vague."""

    trigger: str
    topic: str
    question_zh: str
    question_en: str


@dataclass(frozen=True, slots=True)
class ReplyIssue:
    """A phrase in a reply to a customer that the standard asks to rewrite."""

    kind: ReplyKind
    phrase: str
    offset: int
    suggestion: str


def missing_information(ticket: Ticket) -> list[str]:
    """Return the keys of `REQUIRED_FIELDS` that are blank on ``ticket``."""
    return [name for name in REQUIRED_FIELDS if not getattr(ticket, name).strip()]


def vague_description(text: str) -> list[FollowUp]:
    """Return follow-up questions for the vague phrases in ``text``.

    A question is asked once, for the first phrase that calls for it, and not at
    all when the text already answers it (a time, a place, an amount, ...).
    """
    follow_ups: list[FollowUp] = []
    asked: set[str] = set()
    for _, trigger, topics in _find(text, VAGUE_PHRASES):
        for topic in topics:
            if topic in asked or _ANSWERED[topic].search(text):
                continue
            asked.add(topic)
            follow_ups.append(FollowUp(trigger, topic, *_QUESTION_TEXT[topic]))
    return follow_ups


def check_reply(text: str) -> list[ReplyIssue]:
    """Return negative phrasing and unquantified promises in a reply, in text order."""
    issues: list[ReplyIssue] = []
    for offset, phrase, kind in _find(text, _REPLY_VOCABULARY):
        if kind is None or (kind == "unquantified" and _time_limit_near(text, offset, offset + len(phrase))):
            continue
        lang = "en" if re.search("[A-Za-z]", phrase) else "zh"
        issues.append(ReplyIssue(kind, phrase, offset, SUGGESTIONS[kind, lang].format(phrase=phrase)))
    return issues


def _time_limit_near(text: str, start: int, end: int) -> bool:
    """Whether a time limit stands within `NEAR` characters of ``text[start:end]``, in its sentence."""
    before = _SENTENCE_END.split(text[max(0, start - NEAR) : start])[-1]
    after = _SENTENCE_END.split(text[end : end + NEAR])[0]
    return bool(TIME_LIMIT.search(before) or TIME_LIMIT.search(after))


def _find(text: str, vocabulary: Iterable[tuple[str, T]]) -> list[tuple[int, str, T]]:
    """Return (offset, matched text, value) for each phrase found, in text order.

    Where matches overlap, the one starting first wins, then the longest.
    """
    vocabulary = tuple(vocabulary)
    if not any(phrase in text for phrase in _literal(vocabulary)) and (
        _LETTER.search(text) is None or (latin := _latin(vocabulary)) is None or latin.search(text) is None
    ):
        return []  # most texts hold none: a substring test per phrase, instead of a regex pass per phrase
    return [
        (m.start(), m.group(), vocabulary[int(m.lastgroup[1:])][1])  # type: ignore[index]
        for m in _alternatives(vocabulary).finditer(text)
    ]


_LETTER = re.compile(r"(?i:[a-z])")
"""A character a Latin phrase's letter may match (ignoring case, K and ſ too): a text without one, such as
most Chinese descriptions, needs no pass of the Latin phrases' pattern (the most costly part of the test)."""


@cache
def _alternatives(vocabulary: tuple[tuple[str, object], ...]) -> re.Pattern[str]:
    """One pattern of every phrase, longest first, each a group named by its index in ``vocabulary``.

    At a place where several phrases match, the longest is taken, and the scan goes on after it:
    the rule of `_find` in one regex pass instead of one per phrase.
    """
    order = sorted(range(len(vocabulary)), key=lambda i: -len(vocabulary[i][0]))
    return re.compile("|".join(f"(?P<v{i}>{_source(vocabulary[i][0])})" for i in order))


def _source(phrase: str) -> str:
    """``phrase`` as a pattern: Latin words on word boundaries, ignoring case, blanks and apostrophe style."""
    if not re.search("[A-Za-z]", phrase):
        return re.escape(phrase)
    words = r"\s+".join(re.escape(word).replace("'", "['’]") for word in phrase.split())
    return rf"(?i:(?<![A-Za-z]){words}(?![A-Za-z]))"


@cache
def _literal(vocabulary: tuple[tuple[str, object], ...]) -> tuple[str, ...]:
    """The phrases without Latin letters, matched as they are."""
    return tuple(phrase for phrase, _ in vocabulary if not re.search("[A-Za-z]", phrase))


@cache
def _latin(vocabulary: tuple[tuple[str, object], ...]) -> re.Pattern[str] | None:
    """One pattern for the phrases with Latin letters (compiled for the first text with a letter)."""
    latin = [_source(phrase) for phrase, _ in vocabulary if re.search("[A-Za-z]", phrase)]
    return re.compile("|".join(latin)) if latin else None
