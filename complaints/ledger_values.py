"""The values of a branch's own complaint ledger (投诉台账) as people type them, read into the model's.

Ledgers kept by hand spell a date many ways ("2026.11.3", "2026/11/3",
"2026年11月3日", "11月3日" under a title naming the year, an Excel serial),
tick a yes with √ and write a category in their own words. Each reader here
returns the model's value or raises `CellValueError` with a message in both
languages; the caller names the place. Pure: no spreadsheet library.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import Enum
from functools import lru_cache
from typing import TypeVar

from complaints.cells import EXCEL_1900, CellValueError, describe, from_serial
from complaints.enums import Category, Channel, Labelled, Satisfaction

_FULL_WIDTH = str.maketrans("０１２３４５６７８９．／－：　", "0123456789./-: ")
_YEAR = re.compile(r"(20[0-9]{2})\s*年?")
_TIME = r"(?:\s*(?P<h>[0-9]{1,2})\s*[:：时]\s*(?P<mi>[0-9]{1,2})\s*分?(?:\s*[:：]\s*(?P<s>[0-9]{1,2}))?)?"
_FULL_DATE = re.compile(
    r"(?P<y>(?:19|20)[0-9]{2})\s*(?:[-./年]\s*)(?P<m>[0-9]{1,2})\s*(?:[-./月]\s*)(?P<d>[0-9]{1,2})\s*[日号]?"
    + _TIME
)
_COMPACT_DATE = re.compile(r"(?P<y>20[0-9]{2})(?P<m>[01][0-9])(?P<d>[0-3][0-9])" + _TIME)
_MONTH_DAY = re.compile(r"(?P<m>[0-9]{1,2})\s*月\s*(?P<d>[0-9]{1,2})\s*[日号]?" + _TIME)
E = TypeVar("E", bound=Labelled)
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_TOTALS = re.compile(r"^(合计|总计|小计|共计|汇总|total|sum|subtotal)\b", re.IGNORECASE)


class Spelling(Enum):
    """How a date was written, when the way matters to the person checking the import."""

    FULL = "full"
    YEAR_INFERRED = "year_inferred"
    """Month and day only: the year came from the title, the sheet's name or the file's."""


@dataclass(frozen=True, slots=True)
class LedgerDate:
    """A naive local date and time read from a ledger cell; ``dated_only`` when no time was written."""

    moment: datetime
    dated_only: bool
    spelling: Spelling = Spelling.FULL


def plain(text: str) -> str:
    """Full-width digits and punctuation as ASCII, surrounding blanks gone."""
    return text.translate(_FULL_WIDTH).strip()


def year_in(text: str) -> int | None:
    """The first year (2000–2099) named in a title, a sheet's name or a file name."""
    match = _YEAR.search(plain(text))
    return int(match.group(1)) if match else None


def _moment(year: int, month: int, day: int, match: re.Match[str], raw: object) -> tuple[datetime, bool]:
    hour, minute, second = match.group("h"), match.group("mi"), match.group("s")
    try:
        moment = datetime(year, month, day)
        if hour is not None:
            moment = datetime.combine(moment.date(), time(int(hour), int(minute), int(second or 0)))
    except ValueError as exc:
        raise CellValueError(
            f"{describe(raw)} is not a date that exists ({exc})",
            f"{describe(raw)} 不是存在的日期（{exc}）",
        ) from exc
    return moment, hour is None


def read_ledger_date(raw: object, year: int | None, epoch: datetime = EXCEL_1900) -> LedgerDate:
    """A ledger's date cell: a date or datetime, an Excel serial, or text in a common Chinese spelling.

    ``year`` completes a month and day written alone ("11月3日"); without it such a cell is refused.
    """
    if isinstance(raw, datetime):
        return LedgerDate(raw.replace(microsecond=0), raw.time() == time())
    if isinstance(raw, date):
        return LedgerDate(datetime.combine(raw, time()), True)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        if math.isfinite(raw) and 20_000 <= raw <= 80_000:  # 1954 .. 2119: a serial, not a typed number
            moment = from_serial(raw, epoch)
            return LedgerDate(moment, moment.time() == time())
        raise CellValueError(
            f"{describe(raw)} is a number, not a date; type e.g. 2026-11-03",
            f"{describe(raw)} 是数字而不是日期，请填写如 2026-11-03",
        )
    text = plain(str(raw))
    for pattern in (_FULL_DATE, _COMPACT_DATE):
        match = pattern.fullmatch(text)
        if match:
            moment, dated_only = _moment(int(match["y"]), int(match["m"]), int(match["d"]), match, raw)
            return LedgerDate(moment, dated_only)
    match = _MONTH_DAY.fullmatch(text)
    if match:
        if year is None:
            raise CellValueError(
                f"{describe(raw)} names no year, and neither does the title, the sheet or the file; "
                "give the year (--year, or the mapping's year)",
                f"{describe(raw)} 没有年份，标题、工作表名和文件名中也没有；"
                "请指定年份（--year 或映射中的 year）",
            )
        moment, dated_only = _moment(year, int(match["m"]), int(match["d"]), match, raw)
        return LedgerDate(moment, dated_only, Spelling.YEAR_INFERRED)
    raise CellValueError(
        f"{describe(raw)} is not a date; type e.g. 2026-11-03, 2026.11.3 or 2026年11月3日",
        f"{describe(raw)} 不是日期，请填写如 2026-11-03、2026.11.3 或 2026年11月3日",
    )


def date_in_text(text: str, year: int | None) -> LedgerDate | None:
    """The first date written inside a longer text ("11月5日已修复"), or None."""
    flat = plain(text)
    for pattern in (_FULL_DATE, _MONTH_DAY):
        match = pattern.search(flat)
        if match is None:
            continue
        found_year = int(match["y"]) if "y" in match.groupdict() else year
        if found_year is None:
            continue
        try:
            moment, dated_only = _moment(found_year, int(match["m"]), int(match["d"]), match, text)
        except CellValueError:
            continue
        spelling = Spelling.FULL if pattern is _FULL_DATE else Spelling.YEAR_INFERRED
        return LedgerDate(moment, dated_only, spelling)
    return None


def looks_like_date(raw: object, epoch: datetime = EXCEL_1900) -> bool:
    """Whether a cell reads as a date with a year (for finding a date column by its values)."""
    try:
        return read_ledger_date(raw, None, epoch) is not None
    except CellValueError:
        return False


def phone_text(raw: object) -> str:
    """A phone cell as text: a number typed as a number keeps its digits (13800138000.0 -> 13800138000)."""
    if isinstance(raw, float) and raw.is_integer():
        return str(int(raw))
    return plain(str(raw))


def looks_like_phone(raw: object) -> bool:
    """An 11-digit mainland mobile number, separators ignored."""
    digits = re.sub(r"[\s\-.]", "", phone_text(raw))
    return bool(_MOBILE.fullmatch(digits))


def is_totals(text: str) -> bool:
    """A totals row's label (合计, 总计, Total …)."""
    return bool(_TOTALS.match(plain(text).replace(" ", "")))


YES_WORDS = frozenset({"是", "满意", "√", "✓", "✔", "y", "yes", "true", "1", "对", "好"})
NO_WORDS = frozenset({"否", "不满意", "×", "✗", "✘", "x", "n", "no", "false", "0", "不"})


def read_satisfaction(raw: object) -> Satisfaction | None:
    """是/否/√/×/Y/N or a satisfaction label; None for a word that is none of these."""
    if isinstance(raw, bool):
        return Satisfaction.SATISFIED if raw else Satisfaction.DISSATISFIED
    text = phone_text(raw).casefold()
    if text in YES_WORDS:
        return Satisfaction.SATISFIED
    if text in NO_WORDS:
        return Satisfaction.DISSATISFIED
    if text in ("基本满意", "一般", "较满意", "fairly satisfied"):
        return Satisfaction.FAIRLY_SATISFIED
    try:
        return Satisfaction.parse(text)  # type: ignore[return-value]
    except ValueError:
        return None


CATEGORY_WORDS: tuple[tuple[str, Category], ...] = (
    ("网络", Category.NETWORK_FAULT),
    ("信号", Category.NETWORK_FAULT),
    ("宽带", Category.NETWORK_FAULT),
    ("断网", Category.NETWORK_FAULT),
    ("网速", Category.NETWORK_FAULT),
    ("network", Category.NETWORK_FAULT),
    ("资费", Category.BILLING_DISPUTE),
    ("计费", Category.BILLING_DISPUTE),
    ("扣费", Category.BILLING_DISPUTE),
    ("话费", Category.BILLING_DISPUTE),
    ("账单", Category.BILLING_DISPUTE),
    ("收费", Category.BILLING_DISPUTE),
    ("billing", Category.BILLING_DISPUTE),
    ("tariff", Category.BILLING_DISPUTE),
    ("态度", Category.STAFF_ATTITUDE),
    ("attitude", Category.STAFF_ATTITUDE),
    ("差错", Category.HANDLING_ERROR),
    ("办理", Category.HANDLING_ERROR),
    ("handling", Category.HANDLING_ERROR),
    ("条款", Category.PRODUCT_TERMS),
    ("合约", Category.PRODUCT_TERMS),
    ("套餐", Category.PRODUCT_TERMS),
    ("product", Category.PRODUCT_TERMS),
)
"""Words a branch's own category names contain, in the order they are tried."""

CHANNEL_WORDS: tuple[tuple[str, Channel], ...] = (
    ("工信部", Channel.REGULATOR),
    ("12300", Channel.REGULATOR),
    ("申诉", Channel.REGULATOR),
    ("管局", Channel.REGULATOR),
    ("regulator", Channel.REGULATOR),
    ("微博", Channel.WEIBO),
    ("weibo", Channel.WEIBO),
    ("抖音", Channel.DOUYIN),
    ("douyin", Channel.DOUYIN),
    ("营业厅", Channel.HALL),
    ("厅", Channel.HALL),
    ("hall", Channel.HALL),
    ("热线", Channel.HOTLINE),
    ("10000", Channel.HOTLINE),
    ("10086", Channel.HOTLINE),
    ("10010", Channel.HOTLINE),
    ("电话", Channel.HOTLINE),
    ("hotline", Channel.HOTLINE),
    ("app", Channel.APP),
    ("网站", Channel.APP),
    ("网上", Channel.APP),
    ("线上", Channel.APP),
)
"""Words a branch's own channel names contain, in the order they are tried."""


@lru_cache(maxsize=4096)
def match_label(enum: type[E], text: str, words: tuple[tuple[str, E], ...], other: E) -> tuple[E, bool]:
    """The member a typed name means and whether it was recognised (else ``other``: the caller keeps the
    text)."""
    wanted = plain(text)
    try:
        return enum.parse(wanted), True  # type: ignore[return-value]
    except ValueError:
        pass
    folded = wanted.casefold()
    for word, member in words:
        if word in folded:
            return member, True
    return other, False


def read_category(text: str) -> tuple[Category, bool]:
    """A ledger's category as the enumeration's, or Other (not recognised: the caller keeps the text)."""
    return match_label(Category, text, CATEGORY_WORDS, Category.OTHER)


def read_channel(text: str) -> tuple[Channel, bool]:
    """A ledger's channel as the enumeration's, or Other (not recognised: the caller keeps the text)."""
    return match_label(Channel, text, CHANNEL_WORDS, Channel.OTHER)
