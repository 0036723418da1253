"""Who gets which notice: a branch's routing table and coordinator, edited on the command line."""

from __future__ import annotations

from flask import Flask


def test_a_branch_starts_from_the_default_routing_and_an_edit_keeps_the_other_rules(desk: Flask) -> None:
    runner = desk.test_cli_runner()
    shown = runner.invoke(args=["routing", "show", "SZ01"]).output
    assert "network_fault\t网络部\t网络部负责人\t\t" in shown

    result = runner.invoke(
        args=["routing", "set", "SZ01", "网络故障", "--head", "王经理", "--email", "wang@example.com"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        args=[
            "routing",
            "coordinator",
            "SZ01",
            "--name",
            "陈主管",
            "--email",
            "chen@example.com",
            "--lang",
            "en",
        ]
    )
    assert result.exit_code == 0, result.output

    shown = runner.invoke(args=["routing", "show", "SZ01"]).output.splitlines()
    assert shown[0].startswith("network_fault\t网络部\t王经理\twang@example.com\t网络部-调查员1")
    assert any(line.startswith("billing_dispute\t市场部\t市场部负责人") for line in shown)
    assert shown[-1] == "coordinator\t陈主管\tchen@example.com\ten"


def test_bad_routing_input_is_refused_naming_the_problem(desk: Flask) -> None:
    runner = desk.test_cli_runner()
    unknown = runner.invoke(args=["routing", "set", "SZ01", "weather", "--head", "x"])
    assert unknown.exit_code != 0 and "network_fault" in unknown.output and "CATEGORY" in unknown.output
    address = runner.invoke(args=["routing", "set", "SZ01", "network_fault", "--email", "wang"])
    assert address.exit_code != 0 and "'wang' is not an e-mail address" in address.output
    branch = runner.invoke(args=["routing", "show", "XX99"])
    assert branch.exit_code != 0 and "unknown branch 'XX99'" in branch.output
