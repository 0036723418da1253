"""The built-in remote engine answers every macro with the same actions as xlwings PRO's.

Each scenario builds a branch workbook (`tests.addin.workbooks`), sends the
same payload to both engines and compares the actions one by one. xlwings PRO
runs with the non-commercial key, as a reference only. Sync and Pull
consolidated talk to a real server in-process; the reference run records the
server's answers and the built-in run gets the same answers back, so both see
one server state. Random keys (new sync keys, idempotency keys) come from one
seeded sequence, restarted for each run.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import Workbook, load_workbook

from addin import macros
from addin.macros import MACROS
from addin.officejs import OFFICEJS_ACTIONS
from addin.run import Env
from addin.sync_client import Reply
from complaints.enums import Category, Level, Satisfaction
from complaints.schema import TICKETS
from server import create_app
from server.remote.pages import InProcessTransport
from server.storage.db import get_db
from tests.addin.harness import apply_actions, open_book, payload_of, vba_actions
from tests.addin.workbooks import NOW, branch_book, numbered, set_cells, type_ticket
from tests.factories import local
from tests.server.api.conftest import add_branch, add_head_office

ENV = Env(now=NOW, user="小王")
TICKETS_TITLE = {"zh": "投诉单", "en": "Tickets"}
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


@pytest.fixture(autouse=True)
def seeded_uuids(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """uuid4 from a counter; calling the fixture's value restarts it."""
    state = {"counter": itertools.count(1)}

    def fake() -> uuid.UUID:
        return uuid.UUID(int=next(state["counter"]))

    def restart() -> None:
        state["counter"] = itertools.count(1)

    monkeypatch.setattr(uuid, "uuid4", fake)
    yield restart


@dataclass
class Recording:
    """A transport that passes each request on and keeps (request, reply)."""

    inner: Any
    calls: list[tuple[Any, Reply]]

    @property
    def where(self) -> str:
        return self.inner.where

    @property
    def token_hint(self) -> str:
        return self.inner.token_hint

    def request(self, method: str, path: str, **options: Any) -> Reply:
        reply = self.inner.request(method, path, **options)
        self.calls.append(((method, path, options), reply))
        return reply


@dataclass
class Replaying:
    """A transport that expects the recorded requests, in order, and answers the recorded replies."""

    calls: list[tuple[Any, Reply]]
    where: str = "http://desk.test"
    token_hint: str = "Settings"

    def request(self, method: str, path: str, **options: Any) -> Reply:
        expected, reply = self.calls.pop(0)
        assert (method, path, options) == expected  # the same requests, the same bodies
        return reply


def both(
    path: Path,
    macro: Callable[..., None],
    restart: Callable[[], None],
    env: Env = ENV,
    *,
    sheet: str | None = None,
    selection: str | None = None,
) -> list[dict[str, Any]]:
    """Run ``macro`` on both engines over one payload; assert equal actions; apply them to ``path``."""
    payload = payload_of(path, sheet=sheet, selection=selection)
    answers: dict[str, list[dict[str, Any]]] = {}
    calls: list[tuple[Any, Reply]] = []
    for engine in ("xlwings", "own"):
        restart()
        transport = env.transport
        if transport is not None:
            transport = Recording(transport, calls) if engine == "xlwings" else Replaying(list(calls))
        with open_book(copy.deepcopy(payload), engine) as book:
            macro(book, Env(env.now, env.user, transport, env.branch, env.calendar))
            answers[engine] = list(book.json()["actions"])
    assert answers["own"] == answers["xlwings"]
    assert answers["own"], "every macro answers at least its message"
    assert {a["func"] for a in answers["own"]} <= vba_actions() & OFFICEJS_ACTIONS
    apply_actions(path, answers["own"])
    return answers["own"]


def closed(n: int, closed_at: Any, **fields: object) -> Any:
    return numbered(
        n,
        received_at=local(2026, 2, 2, 9, n),
        acknowledged_at=local(2026, 2, 2, 10, 0),
        routed_at=local(2026, 2, 2, 10, 5),
        department="网络部",
        plan_at=local(2026, 2, 3, 10, 0),
        resolved_at=local(2026, 2, 5, 10, 0),
        feedback_at=local(2026, 2, 5, 12, 0),
        closed_at=closed_at,
        **fields,
    )


# --- the branch buttons -------------------------------------------------------------------------


@LANGS
def test_new_ticket_on_an_empty_and_on_a_filled_book(tmp_path, seeded_uuids, lang):
    path = branch_book(tmp_path / "b.xlsx", lang=lang)
    both(path, macros.new_ticket, seeded_uuids)
    both(path, macros.new_ticket, seeded_uuids, sheet="Settings" if lang == "en" else "设置")


@LANGS
def test_route_selected_rows_all_unrouted_rows_and_nothing_left(tmp_path, seeded_uuids, lang):
    tickets = [numbered(1), numbered(2), numbered(3, category=Category.BILLING_DISPUTE), numbered(4)]
    path = branch_book(tmp_path / "b.xlsx", tickets, lang)
    both(path, macros.route, seeded_uuids, sheet=TICKETS_TITLE[lang], selection="A2:C4")
    type_ticket(path, lang, 6, numbered(5))  # typed by hand: no sync key yet
    both(path, macros.route, seeded_uuids, sheet=TICKETS_TITLE[lang], selection="A1")
    refused = both(path, macros.route, seeded_uuids, sheet=TICKETS_TITLE[lang], selection="B2")
    assert refused[-1]["args"][3] == "critical"


def test_route_with_a_broken_routing_sheet(tmp_path, seeded_uuids):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], "en")
    book = load_workbook(path)
    book["Routing"]["A3"].value = "Pigeon post"
    book.save(path)
    both(path, macros.route, seeded_uuids, sheet="Tickets", selection="A2")
    both(path, macros.check_deadlines, seeded_uuids)


@LANGS
def test_escalate_and_deescalate_with_and_without_reasons(tmp_path, seeded_uuids, lang):
    tickets = [numbered(n, level_reason="客户在微博发帖" if n != 2 else "") for n in (1, 2, 3)]
    tickets.append(numbered(4, level=Level.RED, level_reason="工信部转来"))
    path = branch_book(tmp_path / "b.xlsx", tickets, lang)
    title = TICKETS_TITLE[lang]
    both(path, macros.escalate, seeded_uuids, sheet=title, selection="A2,C4")
    both(path, macros.escalate, seeded_uuids, sheet=title, selection="A3")  # no reason: refused
    both(path, macros.escalate, seeded_uuids, sheet=title, selection="A5")  # already red: refused
    both(path, macros.escalate, seeded_uuids, sheet="Log" if lang == "en" else "日志", selection="A2")
    both(path, macros.deescalate, seeded_uuids, sheet=title, selection="A5")


@LANGS
def test_check_deadlines_on_groups_vague_texts_revisits_and_hand_typed_rows(tmp_path, seeded_uuids, lang):
    now = local(2026, 3, 5, 10, 0)
    tickets = [
        *(numbered(n, place="阳光花园小区", received_at=local(2026, 3, 2, 9, 10 + n)) for n in (1, 2, 3)),
        numbered(4, received_at=local(2026, 2, 26, 9, 0)),
        numbered(5, description="网络卡，看视频一直转圈"),
        closed(6, local(2026, 2, 25, 10, 0), revisited_at=local(2026, 3, 2, 10, 0),
               satisfaction=Satisfaction.DISSATISFIED, suggestions="仍然掉线"),
        closed(7, local(2026, 2, 25, 10, 0)),
        numbered(8, level=Level.RED, media_exposure=True),
    ]  # fmt: skip
    path = branch_book(tmp_path / "b.xlsx", tickets, lang)
    type_ticket(path, lang, 10, numbered(9))
    env = Env(now=now, user="小王")
    both(path, macros.check_deadlines, seeded_uuids, env)
    again = both(path, macros.check_deadlines, seeded_uuids, env)
    assert not [a for a in again if a["func"] == "setValues"]


@LANGS
def test_revisit_list_new_and_replaced_and_the_monthly_summary(tmp_path, seeded_uuids, lang):
    tickets = [
        closed(1, local(2026, 2, 25, 10, 0)),
        closed(2, local(2026, 2, 10, 10, 0)),
        closed(3, local(2026, 3, 2, 9, 0)),
        numbered(4, category=Category.BILLING_DISPUTE, resolved_at=local(2026, 3, 2, 10, 0)),
    ]
    path = branch_book(tmp_path / "b.xlsx", tickets, lang)
    both(path, macros.revisit_list, seeded_uuids)
    both(path, macros.revisit_list, seeded_uuids)
    both(path, macros.monthly_summary, seeded_uuids)
    both(path, macros.monthly_summary, seeded_uuids)


@LANGS
def test_a_workbook_with_problems_is_refused_alike(tmp_path, seeded_uuids, lang):
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)], lang)
    set_cells(path, TICKETS, lang, 2, {"received_at": "昨天"})
    refused = both(path, macros.check_deadlines, seeded_uuids)
    assert [a["func"] for a in refused] == ["alert"]


# --- the buttons that call the server ------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}", "CLOCK": lambda: NOW}
    )
    with app.app_context():
        get_db().upgrade()
    yield app
    with app.app_context():
        get_db().dispose()


def server_env(app: Flask, token: str, branch: str | None) -> Env:
    return Env(now=NOW, user="小王", transport=InProcessTransport(app, f"Bearer {token}", ""), branch=branch)


@LANGS
def test_sync_first_and_again_after_an_edit_and_pull_consolidated(tmp_path, app, seeded_uuids, lang):
    token = add_branch(app, "SZ01")
    path = branch_book(tmp_path / "b.xlsx", [numbered(1), numbered(2, level_reason="媒体")], lang)
    env = server_env(app, token, "SZ01")
    both(path, macros.sync, seeded_uuids, env)
    both(path, macros.escalate, seeded_uuids, sheet=TICKETS_TITLE[lang], selection="A3")
    both(path, macros.sync, seeded_uuids, env)
    both(path, macros.dossier, seeded_uuids, env, sheet=TICKETS_TITLE[lang], selection="A3")

    hq = tmp_path / "hq.xlsx"
    Workbook().save(hq)
    pulled = both(hq, macros.pull_consolidated, seeded_uuids, server_env(app, add_head_office(app), None))
    assert sum(a["func"] == "addSheet" for a in pulled) > 3


@pytest.mark.parametrize("name", list(MACROS))
def test_every_button_on_one_workbook_answers_alike(tmp_path, app, seeded_uuids, name):
    """Every ribbon macro, the new ones included, on a workbook of tickets at every stage."""
    tickets = [
        numbered(1, level=Level.YELLOW, level_reason="同一客户第二次投诉"),
        numbered(2, description="网络卡，看视频一直转圈"),
        closed(3, local(2026, 2, 25, 10, 0)),
        numbered(4, department="网络部", investigator="网络部-调查员1", routed_at=local(2026, 3, 2, 9, 30)),
    ]
    if name == "pull_consolidated":
        path = tmp_path / "hq.xlsx"
        Workbook().save(path)
        both(path, MACROS[name], seeded_uuids, server_env(app, add_head_office(app), None))
        return
    path = branch_book(tmp_path / "b.xlsx", tickets)
    env = server_env(app, add_branch(app, "SZ01"), "SZ01")
    for selection in ("A2:A3", "A4:A5"):
        both(path, MACROS[name], seeded_uuids, env, sheet="投诉单", selection=selection)
