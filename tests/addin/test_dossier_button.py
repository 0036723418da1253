"""The Dossier button (投诉档案): the selected ticket's dossier from the server, into the Dossier sheet.

Desktop path: the macro over the payload harness, talking HTTP to a live server
with the branch's token. Remote path: ``POST /xlwings/dossier`` on the server,
which calls its own API in-process with the caller's token.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from openpyxl import load_workbook

from addin import macros
from addin.run import Env
from addin.sync_client import HttpTransport, Reply
from server.services import dossier as dossiers
from server.storage.db import get_db
from server.storage.models import TicketRow
from tests.addin.harness import apply_actions, payload_of, run_macro
from tests.addin.test_remote import alerts, app, press  # noqa: F401 (fixture)
from tests.addin.test_sync import env, live, synced_book, token  # noqa: F401 (fixtures)
from tests.addin.workbooks import NOW, branch_book, numbered
from tests.server.api.conftest import add_branch, free_port
from tests.server.api.test_sync_api import sync

FIRST = "SZ01-20260302-0001"


def dossier_sheet(path: Path, title: str = "投诉档案") -> list[list[object]]:
    ws = load_workbook(path)[title]
    return [[c.value for c in row] for row in ws.iter_rows()]


def flat(rows: list[list[object]]) -> str:
    return "\n".join(str(v) for row in rows for v in row if v not in (None, ""))


def test_the_selected_tickets_dossier_lands_in_its_sheet_masked_with_the_servers_digest(
    tmp_path,
    live,  # noqa: F811
    token,  # noqa: F811
):
    path = synced_book(tmp_path, live, token)
    done = run_macro(path, macros.dossier, env(live, token), sheet="投诉单", selection="A2")
    assert not done.critical, done.text
    with live.app.app_context(), get_db().read() as session:
        digest = dossiers.build(session, FIRST, mask=True).digest()
    assert done.text.startswith(f"已将投诉单 {FIRST} 的投诉档案")
    assert "写入“投诉档案”表" in done.text and "电话号码已遮蔽" in done.text
    assert f"卷宗摘要 SHA-256：{digest}" in done.text
    rows = dossier_sheet(path)
    text = flat(rows)
    assert rows[0][0] == f"投诉处理卷宗 Complaint handling dossier · {FIRST}"
    assert "环节与时限 Milestones and deadlines" in text and "修改记录 Field history" in text
    assert f"SHA-256: {digest}" in text and "号码遮蔽 Phones masked: yes" in text
    assert "13800130001" not in text and "138****0001" in text  # the customer's number, masked
    ws = load_workbook(path)["投诉档案"]
    assert all(c.number_format == "@" for row in ws.iter_rows() for c in row)  # text stays text
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)  # never a formula
    assert done.count("setValues") == 1  # the whole dossier in one block


def test_a_second_press_replaces_the_dossier_and_english_books_get_english(tmp_path, live, token):  # noqa: F811
    path = synced_book(tmp_path, live, token, lang="en")
    first = run_macro(path, macros.dossier, env(live, token), sheet="Tickets", selection="A2")
    assert first.text.startswith(f"Wrote the dossier of {FIRST}") and "'Dossier' sheet" in first.text
    second = run_macro(path, macros.dossier, env(live, token), sheet="Tickets", selection="B3")
    assert second.count("rangeClearContents") == 1
    assert load_workbook(path).sheetnames.count("Dossier") == 1
    assert dossier_sheet(path, "Dossier")[0][0].endswith("SZ01-20260302-0002")


def test_without_one_selected_synced_ticket_the_button_says_what_to_do(tmp_path, live, token):  # noqa: F811
    path = synced_book(tmp_path, live, token)
    user = env(live, token)
    nothing = run_macro(path, macros.dossier, user, sheet="设置", selection="B2")
    assert nothing.critical and "请先在“投诉单”表中选中一张投诉单所在的行" in nothing.text
    two = run_macro(path, macros.dossier, user, sheet="投诉单", selection="A2:A3")
    assert two.critical and f"选中了 2 张（{FIRST}、SZ01-20260302-0002）" in two.text
    unsynced = branch_book(tmp_path / "new.xlsx", [numbered(7)])
    missing = run_macro(unsynced, macros.dossier, user, sheet="投诉单", selection="A2")
    assert missing.critical and "服务器上还没有投诉单 SZ01-20260302-0007" in missing.text
    assert "请先点击“同步”" in missing.text
    away = Env(now=NOW, transport=HttpTransport(f"http://127.0.0.1:{free_port()}", token))
    down = run_macro(path, macros.dossier, away, sheet="投诉单", selection="A2")
    assert down.critical and "无法连接服务器" in down.text
    rejected = Env(now=NOW, transport=HttpTransport(live.url, "cdt_revoked"))
    assert (
        "服务器拒绝了访问令牌"
        in run_macro(path, macros.dossier, rejected, sheet="投诉单", selection="A2").text
    )
    portal = Env(now=NOW, transport=Proxy(live.url, token))
    page = run_macro(path, macros.dossier, portal, sheet="投诉单", selection="A2")
    assert page.critical and page.text.startswith("服务器未能提供投诉档案（200）")
    assert "投诉档案" not in load_workbook(path).sheetnames  # nothing was written


class Proxy(HttpTransport):
    """A captive portal between the PC and the server: every answer is its sign-in page."""

    def request(self, method: str, path: str, **options: Any) -> Reply:
        return Reply(200, "<html>请登录</html>", "<html>请登录</html>".encode())


def test_pressed_in_excel_on_the_web_the_server_fetches_its_own_dossier_with_the_callers_token(
    app,  # noqa: F811
    tmp_path,
):
    token_ = add_branch(app, "SZ01")
    path = branch_book(tmp_path / "b.xlsx", [numbered(1)])
    apply_actions(path, press(app, "sync", payload_of(path), token_)["actions"])
    with app.app_context(), get_db().read() as session:
        key = session.query(TicketRow).one().sync_key
    sync(
        app.test_client(),
        token_,
        {"tickets": [{"sync_key": key, "base_version": 1, "fields": {"expectation": "=1+1"}}]},
    )
    actions = press(app, "dossier", payload_of(path, sheet="投诉单", selection="C2"), token_)["actions"]
    apply_actions(path, actions)
    [message] = alerts(actions)
    assert message.startswith(f"已将投诉单 {FIRST} 的投诉档案") and "电话号码已遮蔽" in message
    text = flat(dossier_sheet(path))
    digest = re.search(r"SHA-256: ([0-9a-f]{64})", text)[1]  # type: ignore[index]
    assert digest in message and "138****0001" in text and "13800130001" not in text
    typed = [c for row in load_workbook(path)["投诉档案"].iter_rows() for c in row if c.value == "=1+1"]
    assert typed and all(c.data_type == "s" for c in typed)  # another device's "=…" arrives as text
    other = add_branch(app, "GZ01")  # another branch's token cannot fetch SZ01's ticket
    refused = alerts(
        press(app, "dossier", payload_of(path, sheet="投诉单", selection="C2"), other)["actions"]
    )
    assert refused == [
        f"服务器上还没有投诉单 {FIRST}（或它不属于本分支机构）。请先点击“同步”，再生成投诉档案。"
    ]
