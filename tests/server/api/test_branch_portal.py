"""A branch without Python: sign in on /branch, upload the workbook, download it back merged."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from complaints.enums import Category, Channel, Grade, Level, Status
from complaints.model import Task, Ticket
from server.xlsx import read_workbook
from server.xlsx.template import build_workbook
from tests.factories import local
from tests.server.api.conftest import NOW, add_branch, add_head_office
from tests.server.api.test_sync_api import new_fields, sync


def workbook_bytes(
    tickets: list[Ticket], branch: str = "SZ01", lang: str = "zh", tasks: list[Task] = ()
) -> bytes:
    out = io.BytesIO()
    build_workbook(branch, lang, tickets=tickets, tasks=tasks).save(out)
    return out.getvalue()


def ticket(n: int, **fields: object) -> Ticket:
    """A complete ticket of SZ01 received on 24 November 2026; any ``n`` gives its own number and phone."""
    values: dict[str, object] = {
        "ticket_id": f"SZ01-20261124-{n:04d}",
        "branch": "SZ01",
        "received_at": local(2026, 11, 24, 9, n % 60),
        "channel": Channel.HOTLINE,
        "customer_name": "张先生",
        "contact": f"138{n:08d}",
        "category": Category.NETWORK_FAULT,
        "place": "阳光花园",
        "problem_time": "每晚",
        "service": "宽带",
        "description": "每晚八点宽带断线",
        "expectation": "一周内修好",
        "grade": Grade.MODERATE,
    }
    values.update(fields)
    return Ticket(**values)  # type: ignore[arg-type]


def csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF field"
    return match.group(1)


@pytest.fixture
def portal(app, tmp_path):
    app.config["BRANCH_DOWNLOADS"] = str(tmp_path / "downloads")
    token = add_branch(app, "SZ01")
    client = app.test_client()
    page = client.get("/branch/").get_data(as_text=True)
    response = client.post(
        "/branch/signin", data={"branch": "SZ01", "token": token, "csrf_token": csrf(page)}
    )
    assert response.status_code == 302
    return client, token


def upload(client, data: bytes, name: str = "SZ01.xlsx"):
    token = csrf(client.get("/branch/").get_data(as_text=True))
    return client.post(
        "/branch/upload",
        data={"csrf_token": token, "workbook": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def download(client, page: str) -> bytes:
    link = re.search(r'href="(/branch/download/[^"]+)"', page)
    assert link, page
    response = client.get(link.group(1))
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = response.data
    response.close()
    return data


def test_wrong_token_or_branch_code_is_refused(app):
    token = add_branch(app, "SZ01")
    add_branch(app, "GZ01")
    client = app.test_client()
    for code, sent in (("SZ01", "cdt_wrong"), ("GZ01", token)):
        page = client.get("/branch/").get_data(as_text=True)
        response = client.post(
            "/branch/signin", data={"branch": code, "token": sent, "csrf_token": csrf(page)}
        )
        assert response.status_code == 401
        assert "分支机构编码或访问令牌不正确" in response.get_data(as_text=True)


def test_a_form_without_the_csrf_token_is_refused(app):
    token = add_branch(app, "SZ01")
    response = app.test_client().post("/branch/signin", data={"branch": "SZ01", "token": token})
    assert response.status_code == 400


def test_upload_creates_tickets_and_gives_the_workbook_back_with_versions_and_flags(portal):
    client, _ = portal
    page = upload(client, workbook_bytes([ticket(1), ticket(2, place="")]))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "新建投诉" in text
    merged = read_workbook(download(client, text), now=NOW)
    by_id = {t.ticket_id: t for t in merged.tickets}
    assert set(by_id) == {"SZ01-20261124-0001", "SZ01-20261124-0002"}
    assert all(t.version == 1 for t in merged.tickets)
    assert by_id["SZ01-20261124-0001"].status is Status.NEW
    assert "INFO_INCOMPLETE" in {f.value for f in by_id["SZ01-20261124-0002"].flags}
    assert merged.sync_state.get("cursor") not in (None, "", "0")


def test_uploading_the_same_file_twice_changes_nothing_the_second_time(portal):
    client, token = portal
    data = workbook_bytes([ticket(1)])
    first = download(client, upload(client, data).get_data(as_text=True))
    second = download(client, upload(client, data).get_data(as_text=True))
    assert read_workbook(first, now=NOW).tickets == read_workbook(second, now=NOW).tickets
    listed = client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json
    assert listed["total"] == 1


def test_the_same_file_uploaded_again_brings_back_what_changed_on_the_server_since(portal, app):
    client, token = portal
    data = workbook_bytes([ticket(1)])
    first = read_workbook(download(client, upload(client, data).get_data(as_text=True)), now=NOW)
    hq = add_head_office(app)
    sync(client, token, {"tickets": [{"sync_key": "f" * 32, "fields": new_fields("SZ01-20261125-0002")}]})
    key = first.tickets[0].sync_key
    raised = client.post(
        f"/api/tickets/{key}/escalate", json={"reason": "总部督办"}, headers={"Authorization": f"Bearer {hq}"}
    )
    assert raised.status_code == 200
    page = upload(client, data).get_data(as_text=True)
    assert "合并完成" in page  # the push is not applied twice ...
    again = read_workbook(download(client, page), now=NOW)
    by_number = {t.ticket_id: t for t in again.tickets}  # ... and the answer is the server's state now
    assert set(by_number) == {"SZ01-20261124-0001", "SZ01-20261125-0002"}
    assert by_number["SZ01-20261124-0001"].level is Level.YELLOW
    listed = client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json
    assert listed["total"] == 2


def test_an_edit_made_on_the_server_comes_back_and_a_clash_lands_on_the_conflicts_sheet(portal):
    client, token = portal
    first = upload(client, workbook_bytes([ticket(1)])).get_data(as_text=True)
    mine = read_workbook(download(client, first), now=NOW).tickets[0]
    # another device changes the cause and the solution on the server
    sync(client, token, {"tickets": [{"sync_key": mine.sync_key, "base_version": 1,
                                      "fields": {"cause": "光猫老化", "solution": "更换光猫"}}]})  # fmt: skip
    # meanwhile the workbook (still at version 1) changes the cause too, and the safeguards
    edited = dataclasses.replace(mine, cause="线路故障", safeguards="每月巡检")
    page = upload(client, workbook_bytes([edited])).get_data(as_text=True)
    back = download(client, page)
    result = read_workbook(back, now=NOW).tickets[0]
    assert (result.cause, result.solution, result.safeguards) == ("光猫老化", "更换光猫", "每月巡检")
    sheet = load_workbook(io.BytesIO(back))["冲突"]
    rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert rows[0][:5] == [
        "SZ01-20261124-0001",
        "原因",
        "线路故障",
        "光猫老化",
        datetime(2026, 11, 25, 10, 0),
    ]


def without_task_versions(data: bytes) -> bytes:
    """The workbook as made before the Tasks sheet had its hidden version column."""
    book = load_workbook(io.BytesIO(data))
    sheet = book["任务"]
    sheet.delete_cols([c.value for c in sheet[1]].index("版本") + 1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("older", [False, True], ids=["with task versions", "made before task versions"])
def test_an_older_workbook_keeps_a_task_changed_elsewhere_and_clashes_only_where_both_changed(portal, older):
    client, token = portal
    task = Task("SZ01-20261124-0001", 1, "更换光猫", owner="网络部-调查员1")
    first = upload(client, workbook_bytes([ticket(1)], tasks=[task])).get_data(as_text=True)
    merged = read_workbook(download(client, first), now=NOW)
    mine = merged.tasks[0]
    assert mine.version == 1
    # another device reassigns the task and completes it: version 2 on the server
    done = "2026-11-25T01:30:00+00:00"
    change = {"owner": "网络部-调查员2", "done_at": done}
    sync(client, token, {"tasks": [{"sync_key": mine.sync_key, "ticket_key": merged.tickets[0].sync_key,
                                    "base_version": 1, "fields": change}]})  # fmt: skip
    # meanwhile the merged workbook (still at version 1) renames the task and gives it to someone else
    edited = dataclasses.replace(mine, title="更换光猫并测速", owner="网络部-调查员3")
    data = workbook_bytes(merged.tickets, tasks=[edited])
    page = upload(client, without_task_versions(data) if older else data).get_data(as_text=True)
    back = download(client, page)

    (result,) = read_workbook(back, now=NOW).tasks
    assert (result.title, result.owner, result.version) == ("更换光猫并测速", "网络部-调查员2", 3)
    assert result.done_at == datetime(2026, 11, 25, 1, 30, tzinfo=UTC)
    sheet = load_workbook(io.BytesIO(back))["冲突"]
    rows = [[c.value for c in row][:4] for row in sheet.iter_rows(min_row=2)]
    assert rows == [["SZ01-20261124-0001", "责任人", "网络部-调查员3", "网络部-调查员2"]]


def test_a_broken_file_is_refused_with_the_problem_and_nothing_is_stored(portal):
    client, token = portal
    response = upload(client, b"this is not a workbook")
    assert response.status_code == 422
    assert "未导入" in response.get_data(as_text=True)
    assert client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json["total"] == 0


def test_a_workbook_with_a_bad_row_names_sheet_row_and_column(portal):
    client, token = portal
    book = load_workbook(io.BytesIO(workbook_bytes([ticket(1)])))
    sheet = book["投诉单"]
    headers = [c.value for c in sheet[1]]
    sheet.cell(2, headers.index("受理渠道") + 1).value = "信鸽"
    out = io.BytesIO()
    book.save(out)
    response = upload(client, out.getvalue())
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "投诉单" in text and "第 2 行" in text
    assert client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}).json["total"] == 0


def test_another_branchs_workbook_is_refused(portal):
    client, _ = portal
    response = upload(client, workbook_bytes([ticket(1)], branch="GZ01"))
    assert response.status_code == 422
    assert "GZ01" in response.get_data(as_text=True)


def test_a_download_of_another_branch_or_after_sign_out_is_not_served(portal, app):
    client, _ = portal
    page = upload(client, workbook_bytes([ticket(1)])).get_data(as_text=True)
    link = re.search(r'href="(/branch/download/[^"]+)"', page).group(1)
    other = link.replace("/download/", "/download/999")
    assert client.get(other).status_code == 404
    token = csrf(client.get("/branch/").get_data(as_text=True))
    client.post("/branch/signout", data={"csrf_token": token})
    assert client.get(link).status_code == 302


def test_english_page_and_security_headers(app):
    response = app.test_client().get("/branch/?lang=en")
    assert "Branch code" in response.get_data(as_text=True)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
