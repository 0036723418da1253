"""Department feedback entered on the web reaches the branch workbook with its next Sync (real HTTP)."""

from __future__ import annotations

from pathlib import Path

from addin import macros
from complaints.schema import TICKETS
from server.auth import hash_password
from server.storage.db import get_db
from server.storage.models import BranchRow, UserRow
from tests.addin.harness import run_macro
from tests.addin.test_sync import env, live, token  # noqa: F401 - fixtures
from tests.addin.workbooks import NOW, branch_book, numbered, read, rows
from tests.factories import local
from tests.server.dashboard.conftest import PASSWORD, csrf_of, sign_in


def test_the_investigators_feedback_lands_in_the_workbook_on_the_next_sync(
    tmp_path: Path,
    live,  # noqa: F811
    token,  # noqa: F811
) -> None:
    routed = numbered(
        1,
        acknowledged_at=local(2026, 3, 2, 9, 20),
        routed_at=local(2026, 3, 2, 9, 30),
        department="网络部",
        investigator="网络部-李强",
        coordinator="王芳",
    )
    path = branch_book(tmp_path / "SZ01.xlsx", [routed, numbered(2)])
    assert not run_macro(path, macros.sync, env(live, token)).critical
    with live.app.app_context(), get_db().write() as session:
        branch = session.query(BranchRow).filter_by(code="SZ01").one()
        session.add(
            UserRow(
                username="li",
                password_hash=hash_password(PASSWORD),
                role="investigator",
                created_at=NOW,
                branch_id=branch.id,
                staff_name="网络部-李强",
            )
        )
    web = live.app.test_client()
    sign_in(web, "li")
    key = read(path).tickets[0].sync_key
    form = {"at": "2026-03-02T10:45", "cause": "光交箱老化", "note": "已更换分光器"}
    sent = web.post(
        f"/dashboard/mine/{key}", data={"csrf_token": csrf_of(web.get("/dashboard/mine").text), **form}
    )
    assert sent.status_code == 302

    outcome = run_macro(path, macros.sync, env(live, token))

    assert "收到 1 张投诉单的更新" in outcome.text
    ticket = read(path).tickets[0]
    assert (ticket.dept_feedback_at, ticket.cause, ticket.coordinator) == (
        local(2026, 3, 2, 10, 45),
        "光交箱老化",
        "王芳",
    )
    assert rows(path, TICKETS, "zh")[0]["coordinator"] == "王芳"  # the new column, under 投诉管理员
