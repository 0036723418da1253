"""A conflict reads on the Conflicts sheet as the coordinator's cells would: labels, local times, 是/否."""

from __future__ import annotations

from datetime import datetime

import pytest

from complaints.conflicts import conflict_cells
from tests.factories import SHANGHAI


def conflict(field: str, branch: object, server: object, entity: str = "ticket") -> dict[str, object]:
    return {
        "id": 7,
        "entity": entity,
        "sync_key": "a" * 32,
        "ticket_id": "SZ01-20260302-0001",
        "field": field,
        "branch_value": branch,
        "server_value": server,
        "detected_at": "2026-03-02T03:15:00+00:00",
        "resolved": False,
        "resolution": None,
    }


@pytest.mark.parametrize(
    ("lang", "field", "branch", "server", "shown"),
    [
        ("zh", "cause", "线路故障", "光猫老化", ("原因", "线路故障", "光猫老化")),
        ("en", "level", "yellow", "red", ("Warning level", "Yellow", "Red")),
        ("zh", "level", "yellow", "red", ("预警等级", "黄", "红")),
        ("zh", "media_exposure", True, False, ("媒体曝光", "是", "否")),
        ("en", "media_exposure", True, None, ("Media exposure", "Y", "N")),
        ("zh", "resolved_at", "2026-03-05T02:00:00+00:00", None, ("处理完成时间", "2026-03-05 10:00", None)),
        ("en", "flags", ["PLAN_OVERDUE"], [], ("Flags", "Plan overdue", None)),
        ("zh", "description", "=1+1 客户原话", "", ("问题描述", "=1+1 客户原话", None)),
        ("en", "retired_field", {"a": 1}, 3, ("retired_field", "{'a': 1}", "3")),
    ],
)
def test_a_ticket_conflict_shows_the_fields_header_and_both_values_as_cells(
    lang, field, branch, server, shown
):
    cells = conflict_cells(conflict(field, branch, server), lang, SHANGHAI)

    assert (cells["field"], cells["branch_value"], cells["server_value"]) == shown
    assert cells["ticket_id"] == "SZ01-20260302-0001" and cells["conflict_id"] == "7"
    assert cells["detected_at"] == datetime(2026, 3, 2, 11, 15)


@pytest.mark.parametrize(
    ("lang", "field", "branch", "server", "shown"),
    [
        ("zh", "owner", "网络部-调查员1", "网络部-调查员2", ("责任人", "网络部-调查员1", "网络部-调查员2")),
        ("en", "done_at", None, "2026-03-04T01:30:00+00:00", ("Done at", None, "2026-03-04 09:30")),
        ("en", "due", "2026-03-06", "2026-03-09", ("Due", "2026-03-06", "2026-03-09")),
    ],
)
def test_a_task_conflict_names_the_tasks_column(lang, field, branch, server, shown):
    cells = conflict_cells(conflict(field, branch, server, entity="task"), lang, SHANGHAI)

    assert (cells["field"], cells["branch_value"], cells["server_value"]) == shown
