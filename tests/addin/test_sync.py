"""The Sync button against the real server (Flask app on SQLite, served over HTTP on a free port)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from openpyxl import Workbook, load_workbook
from werkzeug.serving import make_server

from addin import macros
from addin.run import Env
from addin.sheet import MacroError
from addin.sync_client import HttpTransport, Reply, Unreachable, config_path, http_transport, load_config
from complaints.enums import LogKind
from complaints.model import LogEntry, Task
from complaints.schema import CONFLICTS, TASKS, TICKETS
from server import create_app
from server.storage.db import get_db
from server.storage.models import IdempotencyRow, LogRow, TicketRow
from tests.addin.harness import run_macro
from tests.addin.workbooks import NOW, branch_book, numbered, read, rows, set_cells, setting
from tests.factories import local
from tests.server.api.conftest import add_branch, free_port


class LiveServer:
    """The app served by werkzeug in a thread; it can be stopped and started again on the same port."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start()

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'server.db'}", "CLOCK": lambda: NOW}
    )
    with app.app_context():
        get_db().upgrade()
    server = LiveServer(app)
    yield server
    server.stop()
    with app.app_context():
        get_db().dispose()


@pytest.fixture
def token(live: LiveServer) -> str:
    return add_branch(live.app, "SZ01")


def env(live: LiveServer, token: str) -> Env:
    return Env(now=NOW, user="小王@PC-1", transport=HttpTransport(live.url, token))


def server_rows(live: LiveServer, table: Any) -> list[Any]:
    with live.app.app_context(), get_db().read() as session:
        return list(session.query(table))


def synced_book(tmp_path: Path, live: LiveServer, token: str, lang: str = "zh", name: str = "a.xlsx") -> Path:
    path = branch_book(tmp_path / name, [numbered(1), numbered(2)], lang)
    outcome = run_macro(path, macros.sync, env(live, token))
    assert not outcome.critical, outcome.text
    return path


# --- the round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_first_sync_creates_the_rows_on_the_server_and_a_second_one_sends_nothing(
    tmp_path, live, token, lang
):
    tickets = [numbered(1), numbered(2)]
    task = Task(tickets[0].ticket_id, 1, "更换光猫", owner="网络部-调查员1")
    entry = LogEntry(tickets[0].ticket_id, local(2026, 3, 2, 9, 30), LogKind.PROGRESS, "已电话告知处理进度")
    path = branch_book(tmp_path / "a.xlsx", tickets, lang, tasks=[task], log=[entry])
    first = run_macro(path, macros.sync, env(live, token))

    on_server = server_rows(live, TicketRow)
    assert sorted(t.ticket_id for t in on_server) == ["SZ01-20260302-0001", "SZ01-20260302-0002"]
    assert [e.text for e in server_rows(live, LogRow)] == ["已电话告知处理进度"]
    book = read(path)
    assert [t.version for t in book.tickets] == [1, 1]
    assert int(book.sync_state["cursor"]) >= 1
    if lang == "zh":
        assert (
            first.text == "同步完成：上传 2 张投诉单（新建 2）、1 项任务、1 条日志；收到 0 张投诉单的更新。"
        )
    else:
        assert first.text.startswith("Sync done: sent 2 ticket(s) (2 new), 1 task(s), 1 log entries")

    second = run_macro(path, macros.sync, env(live, token))
    assert ("上传 0 张投诉单" if lang == "zh" else "sent 0 ticket(s)") in second.text
    assert len(server_rows(live, TicketRow)) == 2 and len(server_rows(live, LogRow)) == 1


def test_an_edit_on_a_second_device_arrives_with_the_next_sync(tmp_path, live, token):
    first = synced_book(tmp_path, live, token)
    second = tmp_path / "b.xlsx"
    shutil.copy(first, second)
    set_cells(second, TICKETS, "zh", 2, {"place": "阳光花园小区1栋2单元"})
    run_macro(second, macros.sync, env(live, token))

    outcome = run_macro(first, macros.sync, env(live, token))
    ticket = read(first).tickets[0]
    assert ticket.place == "阳光花园小区1栋2单元" and ticket.version == 2
    assert "收到 1 张投诉单的更新" in outcome.text


def test_a_field_changed_on_both_sides_lands_on_the_conflicts_sheet_with_both_values(tmp_path, live, token):
    first = synced_book(tmp_path, live, token)
    second = tmp_path / "b.xlsx"
    shutil.copy(first, second)
    set_cells(second, TICKETS, "zh", 2, {"expectation": "三天内修好"})
    run_macro(second, macros.sync, env(live, token))
    set_cells(first, TICKETS, "zh", 2, {"expectation": "赔偿一个月月租"})

    outcome = run_macro(first, macros.sync, env(live, token))
    conflicts = rows(first, CONFLICTS, "zh")
    assert [(c["ticket_id"], c["field"], c["branch_value"], c["server_value"]) for c in conflicts] == [
        ("SZ01-20260302-0001", "诉求期望", "赔偿一个月月租", "三天内修好")
    ]
    assert "1 处冲突" in outcome.text and "“冲突”表" in outcome.text
    assert (
        read(first).tickets[0].expectation == "三天内修好"
    )  # the server's value; the branch's is kept above

    again = run_macro(first, macros.sync, env(live, token))
    assert len(rows(first, CONFLICTS, "zh")) == 1 and "冲突" not in again.text

    conflict_id = int(conflicts[0]["conflict_id"])
    resolved = live.app.test_client().post(
        f"/api/conflicts/{conflict_id}/resolve",
        json={"keep": "branch"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert resolved.status_code == 200
    run_macro(first, macros.sync, env(live, token))
    assert rows(first, CONFLICTS, "zh") == []  # settled on the server: gone from the sheet
    assert read(first).tickets[0].expectation == "赔偿一个月月租"  # the branch's value was kept


def forget_task_versions(path: Path) -> None:
    """Drop the _sync sheet's task records, as in a workbook merged by the upload page (it keeps none)."""
    book = load_workbook(path)
    sheet = book["_sync"]
    for row in range(sheet.max_row, 1, -1):
        if str(sheet.cell(row, 1).value).startswith("task:"):
            sheet.delete_rows(row)
    book.save(path)


@pytest.mark.parametrize("records", ["kept", "forgotten"])
def test_a_task_changed_on_two_devices_is_merged_from_the_version_in_the_workbook(
    tmp_path, live, token, records
):
    task = Task("SZ01-20260302-0001", 1, "更换光猫", owner="网络部-调查员1")
    first = branch_book(tmp_path / "a.xlsx", [numbered(1)], tasks=[task])
    run_macro(first, macros.sync, env(live, token))
    assert [t.version for t in read(first).tasks] == [1]
    second = tmp_path / "b.xlsx"
    shutil.copy(first, second)
    set_cells(second, TASKS, "zh", 2, {"owner": "网络部-调查员2", "done_at": datetime(2026, 3, 2, 10, 30)})
    run_macro(second, macros.sync, env(live, token))
    if records == "forgotten":
        forget_task_versions(first)
    set_cells(first, TASKS, "zh", 2, {"owner": "网络部-调查员3", "title": "更换光猫并测速"})

    outcome = run_macro(first, macros.sync, env(live, token))

    (merged,) = read(first).tasks
    assert (merged.title, merged.owner, merged.done_at) == (
        "更换光猫并测速",
        "网络部-调查员2",
        local(2026, 3, 2, 10, 30),
    )
    assert merged.version == 3 and "1 处冲突" in outcome.text
    conflicts = rows(first, CONFLICTS, "zh")
    assert [(c["field"], c["branch_value"], c["server_value"]) for c in conflicts] == [
        ("责任人", "网络部-调查员3", "网络部-调查员2")
    ]


# --- failures -------------------------------------------------------------------------------------


def test_a_sync_that_cannot_reach_the_server_keeps_the_upload_and_the_next_sync_sends_it_once(
    tmp_path, live, token
):
    path = branch_book(tmp_path / "a.xlsx", [numbered(1), numbered(2)], "en")
    live.stop()
    failed = run_macro(path, macros.sync, env(live, token))
    assert failed.critical
    assert failed.text.startswith(f"Cannot reach the server {live.url}")
    assert "Nothing was lost" in failed.text
    pending = read(path).sync_state["pending_key"]
    keys = [r["sync_key"] for r in rows(path, TICKETS, "en")]
    assert all(keys)  # the keys sent are in the workbook, so the resend meets the same rows

    live.start()
    done = run_macro(path, macros.sync, env(live, token))
    assert "The upload left unconfirmed by the last network failure was sent again" in done.text
    assert sorted(t.sync_key for t in server_rows(live, TicketRow)) == sorted(keys)
    assert pending in {r.key for r in server_rows(live, IdempotencyRow)}
    assert "pending_key" not in read(path).sync_state


class Recording(HttpTransport):
    """HTTP to the server, noting each request's Idempotency-Key."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)
        self.keys: list[str] = []

    def request(self, method: str, path: str, **options: Any) -> Reply:
        self.keys.append(options.get("headers", {}).get("Idempotency-Key", ""))
        return super().request(method, path, **options)


class LostAnswer(Recording):
    """The network at its worst: the request reaches the server, the answer never comes back."""

    def request(self, method: str, path: str, **options: Any) -> Reply:
        super().request(method, path, **options)
        raise Unreachable("read timed out")


def test_a_sync_whose_answer_was_lost_is_resent_with_the_same_key_and_applied_once(tmp_path, live, token):
    path = synced_book(tmp_path, live, token)
    set_cells(path, TICKETS, "zh", 2, {"place": "阳光花园小区1栋3单元"})
    set_cells(path, TICKETS, "zh", 3, {"level_reason": "客户在微博发帖"})
    run_macro(path, macros.escalate, Env(now=NOW, user="小王"), sheet="投诉单", selection="A3")
    lost = LostAnswer(live.url, token)
    failed = run_macro(path, macros.sync, Env(now=NOW, user="小王", transport=lost))
    assert failed.critical and "read timed out" in failed.text

    again = Recording(live.url, token)
    run_macro(path, macros.sync, Env(now=NOW, user="小王", transport=again))
    assert again.keys[0] == lost.keys[0]  # the same request, answered from the server's record
    escalations = [e for e in server_rows(live, LogRow) if e.kind == LogKind.ESCALATION.value]
    assert len(escalations) == 1 and len(server_rows(live, TicketRow)) == 2
    first, second = read(path).tickets
    assert (first.place, first.version) == ("阳光花园小区1栋3单元", 2)
    assert (second.level.value, second.version) == ("yellow", 2)


def test_a_rejected_token_is_explained_and_the_workbook_is_left_as_it_was(tmp_path, live, token):
    path = branch_book(tmp_path / "a.xlsx", [numbered(1)])
    outcome = run_macro(path, macros.sync, Env(now=NOW, transport=HttpTransport(live.url, "cdt_revoked")))
    assert outcome.critical
    assert outcome.text.startswith("服务器拒绝了访问令牌（the token is unknown or revoked）")
    assert [a["func"] for a in outcome.actions] == ["alert"]
    assert read(path).sync_state.get("pending_key") is None
    assert server_rows(live, TicketRow) == []


def test_pull_consolidated_with_a_branch_token_is_refused_with_the_servers_reason(tmp_path, live, token):
    hq = tmp_path / "hq.xlsx"
    Workbook().save(hq)
    outcome = run_macro(hq, macros.pull_consolidated, env(live, token))
    assert outcome.critical
    assert outcome.text.startswith("服务器拒绝了访问令牌（this needs the role head_office or admin）")
    assert load_workbook(hq).sheetnames == ["Sheet"]


def test_pull_consolidated_without_the_server_says_it_cannot_reach_it(tmp_path, live):
    hq = tmp_path / "hq.xlsx"
    Workbook().save(hq)
    live.stop()
    outcome = run_macro(hq, macros.pull_consolidated, env(live, "cdt_x"))
    assert outcome.critical and outcome.text.startswith(f"无法连接服务器 {live.url}：")
    live.start()


# --- the token: the user's own, never the workbook's ----------------------------------------------


def test_the_desktop_sync_reads_the_token_from_the_environment_and_the_url_from_settings(
    tmp_path, live, token, monkeypatch
):
    path = branch_book(tmp_path / "a.xlsx", [numbered(1)])
    setting(path, "zh", "server_url", live.url)
    monkeypatch.setenv("COMPLAINT_DESK_TOKEN", token)
    outcome = run_macro(path, macros.sync, Env(now=NOW, user="小王"))
    assert "新建 1" in outcome.text
    book = load_workbook(path)
    assert all(
        token not in str(cell.value) for ws in book.worksheets for row in ws.iter_rows() for cell in row
    )


def test_without_a_token_the_user_is_told_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPLAINT_DESK_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = branch_book(tmp_path / "a.xlsx", [numbered(1)], "en")
    setting(path, "en", "server_url", "https://desk.example.cn")
    outcome = run_macro(path, macros.sync, Env(now=NOW))
    assert outcome.critical and outcome.text.startswith("No access token.")
    assert str(tmp_path / "config" / "complaint-desk" / "config.json") in outcome.text


def test_without_a_server_url_the_user_is_asked_for_one(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLAINT_DESK_TOKEN", "cdt_x")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    path = branch_book(tmp_path / "a.xlsx", [numbered(1)])
    outcome = run_macro(path, macros.sync, Env(now=NOW))
    assert outcome.critical and outcome.text.startswith("“设置”表中没有服务器地址")


def test_the_config_file_is_in_appdata_on_windows_and_in_xdg_config_elsewhere(tmp_path):
    assert config_path({"APPDATA": r"C:\Users\wang\AppData\Roaming"}, "win32").parts[-2:] == (
        "ComplaintDesk",
        "config.json",
    )
    assert (
        config_path({"XDG_CONFIG_HOME": str(tmp_path)}, "linux")
        == tmp_path / "complaint-desk" / "config.json"
    )
    file = tmp_path / "complaint-desk" / "config.json"
    file.parent.mkdir()
    file.write_text('{"token": "cdt_file", "server_url": "https://hq.example.cn"}', encoding="utf-8")
    environ = {"XDG_CONFIG_HOME": str(tmp_path)}
    assert load_config(environ)["token"] == "cdt_file"
    assert load_config({**environ, "COMPLAINT_DESK_TOKEN": "cdt_env"})["token"] == "cdt_env"
    assert http_transport("", environ).where == "https://hq.example.cn"
    file.write_text("{not json", encoding="utf-8")
    with pytest.raises(MacroError, match="Cannot read the token file"):
        load_config(environ)


class Bodies(HttpTransport):
    """HTTP to the server, keeping each sync request's body."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__(url, token)
        self.bodies: list[dict[str, Any]] = []

    def request(self, method: str, path: str, **options: Any) -> Reply:
        if path == "/api/sync":
            self.bodies.append(options["json"])
        return super().request(method, path, **options)


@pytest.mark.battery
def test_a_first_sync_of_more_log_entries_than_the_server_takes_at_once_arrives_in_chunks(
    tmp_path, live, token
):
    tickets = [numbered(1), numbered(2)]
    log = [
        LogEntry(tickets[n % 2].ticket_id, local(2026, 3, 2, 9, 30), LogKind.NOTE, f"第 {n} 次跟进")
        for n in range(10_001)
    ]
    tasks = [Task(tickets[0].ticket_id, n, f"任务 {n}", owner="网络部-调查员1") for n in range(1, 4)]
    path = branch_book(tmp_path / "a.xlsx", tickets, "zh", tasks=tasks, log=log)
    transport = Bodies(live.url, token)
    done = run_macro(path, macros.sync, Env(now=NOW, user="小王", transport=transport))
    assert not done.critical, done.text
    assert "上传 2 张投诉单（新建 2）、3 项任务、10001 条日志" in done.text
    assert len(server_rows(live, LogRow)) == 10_001
    sizes = [(len(b["tickets"]), len(b["tasks"]), len(b["log"])) for b in transport.bodies]
    assert sizes == [(2, 3, 1_000)] + [(0, 0, 1_000)] * 9 + [(0, 0, 1)]
    again = run_macro(path, macros.sync, env(live, token))
    assert "10001 条日志" not in again.text and len(server_rows(live, LogRow)) == 10_001
