"""The README's run path: migrate, load demo data, administer accounts from the command line."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from complaints.enums import Level, Status
from server import create_app
from server.storage.db import get_db
from server.storage.models import BranchRow, TicketRow, TokenRow
from tests.server.api.conftest import NOW


@pytest.fixture
def cli_app(tmp_path):
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "CLOCK": lambda: NOW}
    )
    yield app
    with app.app_context():
        get_db().dispose()


def test_demo_loads_three_branches_with_tickets_in_every_state_and_level(cli_app):
    result = cli_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "hq / password hq-demo" in result.output
    with cli_app.app_context(), get_db().read() as session:
        assert session.scalar(select(func.count()).select_from(BranchRow)) == 3
        statuses = set(session.scalars(select(TicketRow.status).distinct()))
        levels = set(session.scalars(select(TicketRow.level).distinct()))
    # dissatisfied revisits are reopened as they are stored: the demo has second investigations too
    assert statuses == {s.value for s in Status}
    assert levels == {lv.value for lv in Level}
    again = cli_app.test_cli_runner().invoke(args=["demo"])
    assert "already has branches" in again.output


def test_admin_creates_a_branch_and_a_token_then_revokes_it(cli_app):
    runner = cli_app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["branch", "create", "HK01", "--tz", "Asia/Hong_Kong"]).exit_code == 0
    created = runner.invoke(args=["token", "create", "--branch", "HK01"])
    token = created.output.split(": ", 1)[1].split()[0]
    client = cli_app.test_client()
    ok = client.post(
        "/api/sync", json={}, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "a"}
    )
    assert ok.status_code == 200
    with cli_app.app_context(), get_db().read() as session:
        token_id = session.scalar(select(TokenRow.id))
    assert runner.invoke(args=["token", "revoke", str(token_id)]).exit_code == 0
    refused = client.post(
        "/api/sync", json={}, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "b"}
    )
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["branch", "create", "X1", "--tz", "Mars/Base"], "unknown time zone"),
        (["token", "create", "--branch", "NOPE"], "unknown branch 'NOPE'"),
        (["token", "create"], "exactly one of --branch or --user"),
        (["token", "create", "--user", "nobody"], "unknown user 'nobody'"),
        (["token", "revoke", "99"], "no token 99"),
    ],
)
def test_admin_commands_explain_bad_input(cli_app, args, message):
    runner = cli_app.test_cli_runner()
    runner.invoke(args=["db", "upgrade"])
    result = runner.invoke(args=args)
    assert result.exit_code != 0 and message in result.output


def test_admin_lists_the_branches_users_and_tokens_made_on_the_command_line(cli_app):
    runner = cli_app.test_cli_runner()
    runner.invoke(args=["db", "upgrade"])
    assert runner.invoke(args=["branch", "create", "SZ01", "--name", "深圳福田"]).exit_code == 0
    made = runner.invoke(args=["user", "create", "ana", "--email", "ana@example.com"], input="pw\npw\n")
    assert made.exit_code == 0 and "user ana (head_office) created" in made.stdout
    token = runner.invoke(args=["token", "create", "--user", "ana", "--label", "laptop"])
    assert token.exit_code == 0 and token.stdout.startswith("token 1 (head_office): cdt_")
    assert runner.invoke(args=["branch", "list"]).stdout == "SZ01\t深圳福田\tAsia/Shanghai\n"
    assert runner.invoke(args=["user", "list"]).stdout == "ana\thead_office\tactive\tana@example.com\n"
    listed = runner.invoke(args=["token", "list"]).stdout
    assert listed.startswith("1\thead_office\tcdt_") and listed.endswith("…\tactive\tlaptop\n")


def test_a_second_branch_or_user_of_the_same_name_is_refused(cli_app):
    runner = cli_app.test_cli_runner()
    runner.invoke(args=["db", "upgrade"])
    runner.invoke(args=["branch", "create", "SZ01"])
    runner.invoke(args=["user", "create", "ana"], input="pw\npw\n")
    again = runner.invoke(args=["branch", "create", "SZ01"])
    assert again.exit_code == 1 and "branch SZ01 already exists" in again.output
    again = runner.invoke(args=["user", "create", "ana"], input="pw\npw\n")
    assert again.exit_code == 1 and "user ana already exists" in again.output


def test_every_worker_of_a_host_signs_sessions_with_the_same_key(tmp_path):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    first, second = create_app({"DATABASE_URL": url}), create_app({"DATABASE_URL": url})
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) == 64
    assert create_app({"DATABASE_URL": url, "SECRET_KEY": "shared"}).config["SECRET_KEY"] == "shared"
