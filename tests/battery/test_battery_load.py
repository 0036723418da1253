"""Battery 11: branches pressing Sync at once against gunicorn on PostgreSQL — 0 errors, 0 lost edits.

CI profile: 10 branches × 20 s; ``BATTERY_PROFILE=long``: 50 branches × 300 s (the figures of
docs/reliability.md). The simulation and the checks are bench/load.py's; its figures are printed.
"""

from __future__ import annotations

import os

import pytest

from bench.load import LoadOptions, describe, run
from tests.server.api.conftest import PG_ADMIN_URL, _postgres_available

pytestmark = pytest.mark.battery

LONG = os.environ.get("BATTERY_PROFILE", "ci") == "long"


@pytest.fixture
def postgres() -> None:
    if not _postgres_available():
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL required (REQUIRE_POSTGRES=1) but not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable")


def test_branches_syncing_under_load_lose_nothing_and_see_no_error(postgres: None) -> None:
    options = LoadOptions(branches=50, seconds=300) if LONG else LoadOptions(branches=10, seconds=20)
    result = run(options)
    print(describe(result))
    assert result.errors == []
    assert result.lost_total == 0, dict(result.lost)
    assert set(result.statuses) == {200}
    # the run did what it claims: pushes, pulls, resends with the same key, escalations, all acknowledged
    assert len(result.latencies["push"]) > 10 * options.branches
    assert result.latencies["pull"] and result.counts["lost_answers"] > 0
    assert result.counts["acked_fields"] > 0 and result.counts["acked_log"] > 0
    assert result.counts["created"] > 0 and result.counts["escalations"] > 0
