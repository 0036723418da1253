"""GET /api/consolidated and ``flask consolidate``: who may download, what bad input says, streaming."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import openpyxl
import pytest
import requests
from flask import Flask

from server.services import demo
from tests.server.api.conftest import Gunicorn, add_branch, add_head_office
from tests.server.consolidate.conftest import admin_token

URL = "/api/consolidated?start=2026-11-01&end=2026-12-01"
FULL_PHONE = re.compile(r"^1[3-9]\d{9}$")


def contacts(data: bytes) -> list[str]:
    ws = openpyxl.load_workbook(io.BytesIO(data))["全部投诉"]
    column = [c.value for c in ws[1]].index("联系电话")
    return [row[column] for row in ws.iter_rows(min_row=2, values_only=True)]


def test_head_office_downloads_a_streamed_workbook_with_masked_phones(loaded: Flask) -> None:
    token = add_head_office(loaded, "analyst")
    response = loaded.test_client().get(
        f"{URL}&branches=SZ01,GZ01", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "consolidated-SZ01-GZ01-2026-11-01-2026-12-01.xlsx" in response.headers["Content-Disposition"]
    numbers = contacts(response.data)
    assert numbers and not any(FULL_PHONE.match(n) for n in numbers)


def test_admin_sees_phone_numbers(loaded: Flask) -> None:
    response = loaded.test_client().get(URL, headers={"Authorization": f"Bearer {admin_token(loaded)}"})
    assert response.status_code == 200
    assert all(FULL_PHONE.match(n) for n in contacts(response.data))


def test_branch_token_is_refused(app: Flask) -> None:
    token = add_branch(app, "ZS01")
    response = app.test_client().get(URL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"


def test_unknown_branch_and_backward_period_are_named(loaded: Flask) -> None:
    client = loaded.test_client()
    headers = {"Authorization": f"Bearer {add_head_office(loaded, 'analyst')}"}
    unknown = client.get(f"{URL}&branches=SZ01,XX99", headers=headers)
    assert unknown.status_code == 422
    assert unknown.get_json()["where"] == {"branches": ["XX99"]}
    backward = client.get("/api/consolidated?start=2026-12-01&end=2026-11-01", headers=headers)
    assert backward.status_code == 422
    assert backward.get_json()["where"] == {"field": "end"}
    missing = client.get("/api/consolidated?start=2026-12-01", headers=headers)
    assert missing.status_code == 422
    assert "end" in missing.get_json()["where"]["query"]


def test_cli_writes_the_workbook_with_a_progress_bar(app: Flask, tmp_path: Path) -> None:
    with app.app_context():
        demo.load(10)
    output = tmp_path / "hq.xlsx"
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "consolidate",
            "--branches",
            "SZ01",
            "--start",
            "2026-10-01",
            "--end",
            "2026-12-01",
            "-o",
            str(output),
        ]
    )
    assert result.exit_code == 0, result.output
    assert "tickets 投诉单" in result.stderr
    assert f"{output}: 9 sheets" in result.stdout  # with the appeal register and the staff sheet
    wb = openpyxl.load_workbook(output)
    assert {r[0] for r in wb["全部投诉"].iter_rows(min_row=2, values_only=True)} == {"SZ01"}
    bad = runner.invoke(
        args=[
            "consolidate",
            "--branches",
            "XX99",
            "--start",
            "2026-10-01",
            "--end",
            "2026-12-01",
            "-o",
            str(output),
        ]
    )
    assert bad.exit_code == 2
    assert "XX99" in bad.stderr
    far_end = ["--start", "2026-10-01", "--end", "9999-12-31"]
    far = runner.invoke(args=["consolidate", *far_end, "-o", str(output)])
    assert far.exit_code == 2
    assert "期间须在 2000-01-01 至 2100-01-01 之间" in far.stderr


def test_gunicorn_streams_the_workbook_to_a_real_client(loaded: Flask, database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("streaming does not depend on the database")
    token = add_head_office(loaded, "analyst")
    server = Gunicorn(database_url, workers=1)
    try:
        started = time.monotonic()
        with requests.get(
            f"{server.url}{URL}", headers={"Authorization": f"Bearer {token}"}, stream=True, timeout=60
        ) as response:
            assert response.status_code == 200
            assert response.headers.get("Transfer-Encoding") == "chunked"  # no length: sent while built
            first = next(response.iter_content(64 * 1024))
            assert first[:4] == b"PK\x03\x04"
            assert time.monotonic() - started < 30
            data = first + b"".join(response.iter_content(64 * 1024))
    finally:
        server.stop()
    assert openpyxl.load_workbook(io.BytesIO(data)).sheetnames[:3] == ["KPI", "月度分析", "全部投诉"]


def test_a_build_failing_midway_fails_the_download_rather_than_ending_it_short(
    loaded: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.api.exports import ConsolidatedBuildError
    from server.xlsx import consolidate

    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(consolidate, "analysis_sheet", broken)  # after the ticket sheets were sent
    token = add_head_office(loaded, "analyst")
    response = loaded.test_client().get(URL, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200  # the headers left before the failure
    with pytest.raises(ConsolidatedBuildError) as failed:
        _ = response.data
    assert isinstance(failed.value.__cause__, OSError)
