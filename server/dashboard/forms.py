"""Reading the dashboard's forms: the period (local days), the chosen branches, and their error messages;
the choices of the message card."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from complaints.messages import MessageKind, SendChannel
from complaints.periods import FIRST_DAY, LAST_DAY, Period
from complaints.reach import ContactChannel, channels_in
from server import clock
from server.dashboard.i18n import current_lang, t
from server.dashboard.queries import FilterError, parse_date


def home_zone() -> str:
    return current_app.config["TIMEZONE"]


def default_period() -> Period:
    """This month so far (today in the head office's zone)."""
    today = clock.now().astimezone(ZoneInfo(home_zone())).date()
    return Period.days(today.replace(day=1), today)


def read_period(args: Any) -> Period:
    """The days ``from`` to ``to`` (both included) of the arguments; this month so far by default."""
    default = default_period()
    first = parse_date(args, "from") or default.first
    last = parse_date(args, "to") or (default.last if first <= default.last else first)
    if first > last:
        raise FilterError("from", "bad_period")
    if first < FIRST_DAY or last >= LAST_DAY:
        field = "from" if first < FIRST_DAY else "to"
        raise FilterError(field, "out_of_range", first=FIRST_DAY, last=LAST_DAY)
    return Period.days(first, last)


def read_branches(args: Any, known: list[str]) -> list[str]:
    chosen = [code for code in args.getlist("branch") if code]
    for code in chosen:
        if code not in known:
            raise FilterError("branch", "unknown_branch", code=code)
    return chosen


def filter_message(error: FilterError) -> str:
    if error.message_key == "bad_value":
        return t("bad_value", field=t(error.field), value=error.values.get("value", ""))
    if error.message_key in ("bad_date", "date_out_of_range"):
        return t(error.message_key, field=t(error.field), **error.values)
    return t(error.message_key, **error.values)


def message_form(preferred: str) -> dict[str, Any]:
    """The message card's choices in the page's language; the channel first offered is the customer's
    preferred one when it is e-mail, SMS otherwise."""
    lang = current_lang()
    return {
        "kinds": [(k.value, k.label(lang)) for k in MessageKind],
        "channels": [(c.value, c.label(lang)) for c in SendChannel],
        "channel": "email" if ContactChannel.EMAIL in channels_in(preferred) else "sms",
    }
