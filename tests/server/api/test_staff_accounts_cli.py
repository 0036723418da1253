"""Staff accounts on the command line: an investigator or department head bound to a branch."""

from __future__ import annotations

import pytest

from tests.server.api.test_demo_and_cli import cli_app  # noqa: F401 - fixture


@pytest.fixture
def runner(cli_app):  # noqa: ANN001, ANN201, F811
    runner = cli_app.test_cli_runner()
    runner.invoke(args=["db", "upgrade"])
    assert runner.invoke(args=["branch", "create", "SZ01"]).exit_code == 0
    return runner


def test_an_investigator_and_a_department_head_are_made_bound_to_their_branch(runner):
    made = runner.invoke(
        args=[
            "user",
            "create",
            "li",
            "--role",
            "investigator",
            "--branch",
            "SZ01",
            "--staff-name",
            "网络部-李强",
        ],
        input="pw\npw\n",
    )
    assert made.exit_code == 0 and "user li (investigator) created" in made.stdout
    head = ["user", "create", "wang", "--role", "dept_head", "--branch", "SZ01", "--department", "网络部"]
    assert runner.invoke(args=head, input="pw\npw\n").exit_code == 0
    assert runner.invoke(args=["user", "list"]).stdout == (
        "li\tinvestigator\tactive\t\tSZ01\t网络部-李强\t\nwang\tdept_head\tactive\t\tSZ01\t\t网络部\n"
    )
    refused = runner.invoke(args=["token", "create", "--user", "li"])
    assert refused.exit_code == 1 and "get no API token" in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "investigator", "--branch", "SZ01"], "an investigator needs --branch and --staff-name"),
        (
            ["--role", "investigator", "--staff-name", "李强"],
            "an investigator needs --branch and --staff-name",
        ),
        (["--role", "dept_head", "--branch", "SZ01"], "a department head needs --branch and --department"),
        (["--role", "head_office", "--branch", "SZ01"], "a head_office user is not bound to a branch"),
        (["--role", "investigator", "--branch", "XX99", "--staff-name", "李强"], "unknown branch 'XX99'"),
    ],
)
def test_a_staff_account_not_bound_as_it_must_be_is_refused_with_the_reason(runner, args, message):
    refused = runner.invoke(args=["user", "create", "li", *args], input="pw\npw\n")
    assert refused.exit_code == 1 and message in refused.output
    assert runner.invoke(args=["user", "list"]).stdout == ""
