"""The Group button (群体处理), run as Excel runs it (tests/addin/harness.py), on zh and en workbooks."""

from __future__ import annotations

import pytest

from addin.group import group
from addin.macros import MACROS
from addin.run import Env
from complaints.enums import Flag, LogKind
from complaints.model import LogEntry
from server.remote.needs import every_macro
from tests.addin.harness import run_macro
from tests.addin.workbooks import branch_book, numbered, read
from tests.factories import local

LANGS = pytest.mark.parametrize("lang", ["zh", "en"])
TITLE = {"zh": "投诉单", "en": "Tickets"}
GROUP = "SZ01-20260302-0001"
PLAN = "更换翠湖小区光交箱分光器，3月6日前完成"
LATER = local(2026, 3, 5, 11, 0)  # Thursday: two working days after the plan without an update


def member(n: int, **fields: object):
    """Member n of the 翠湖小区 group, acknowledged and routed; typed places differ by building."""
    return numbered(
        n,
        place=f"翠湖小区{n}栋" if n > 1 else "翠湖小区",
        group_id=GROUP,
        acknowledged_at=local(2026, 3, 2, 9, 30),
        routed_at=local(2026, 3, 2, 9, 40),
        **fields,
    )


def book(tmp_path, lang: str):
    tickets = [
        member(1, plan=PLAN, plan_at=local(2026, 3, 2, 10, 30), compensation="每户减免当月宽带费100元"),
        member(2),
        member(3, plan_at=local(2026, 3, 2, 10, 0)),
        numbered(4),  # not in the group
    ]
    told = LogEntry(
        GROUP, local(2026, 3, 5, 9, 0), LogKind.PROGRESS, "施工队已进场，预计周五完成", "小王", "短信"
    )
    return branch_book(tmp_path / "b.xlsx", tickets, lang, log=[told])


@LANGS
def test_group_applies_the_selected_rows_plan_compensation_and_progress_to_every_member(tmp_path, lang):
    path = book(tmp_path, lang)
    outcome = run_macro(path, group, Env(now=LATER, user="小王"), sheet=TITLE[lang], selection="A2")

    first, second, third, lone = read(path, LATER).tickets
    assert [t.plan for t in (first, second, third)] == [PLAN] * 3
    assert [t.compensation for t in (first, second, third)] == ["每户减免当月宽带费100元"] * 3
    assert second.plan_at == local(2026, 3, 2, 10, 30)  # the group's plan time
    assert third.plan_at == local(2026, 3, 2, 10, 0)  # a plan already told keeps its own time
    assert (lone.plan, lone.compensation) == ("", "")
    log = read(path, LATER).log
    progress = sorted((e.ticket_id, e.text, e.channel) for e in log if e.kind is LogKind.PROGRESS)
    assert progress == [(f"SZ01-20260302-000{n}", "施工队已进场，预计周五完成", "短信") for n in (1, 2, 3)]
    assert all(Flag.NO_PROGRESS not in t.flags for t in (first, second, third))
    assert not outcome.critical
    if lang == "zh":
        assert outcome.text.startswith("已群体处理 1 个群体事件")
        assert (
            "群体事件 SZ01-20260302-0001（3 名成员）：已按 SZ01-20260302-0001 适用方案、补偿决定、进度通报"
            in (outcome.text)
        )
    else:
        assert (
            "Group incident SZ01-20260302-0001 (3 members): plan、compensation、progress update"
            in outcome.text
        )

    again = run_macro(path, group, Env(now=LATER, user="小王"), sheet=TITLE[lang], selection="A2")
    assert len([e for e in read(path, LATER).log if e.kind is LogKind.PROGRESS]) == 3  # told once
    assert not again.critical


@LANGS
def test_a_row_outside_any_group_changes_nothing_and_says_why(tmp_path, lang):
    path = book(tmp_path, lang)
    outcome = run_macro(path, group, Env(now=LATER, user="小王"), sheet=TITLE[lang], selection="A5")
    assert outcome.critical
    assert "SZ01-20260302-0004" in outcome.text
    assert ("不属于群体事件" if lang == "zh" else "Not in a group incident") in outcome.text
    assert read(path, LATER).tickets[1].plan == ""
    assert outcome.count("setValues") == 0  # nothing written


def test_the_group_button_is_a_macro_whose_sheets_the_web_client_sends():
    assert MACROS["group"] is group
    assert every_macro()["group"]["sheets"]  # the branch sheets: Tickets and Log among them
    assert {"投诉单", "日志", "Tickets", "Log"} <= set(every_macro()["group"]["sheets"])
