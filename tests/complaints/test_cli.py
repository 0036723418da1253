import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "complaints", *args], capture_output=True, text=True)


def test_due_prints_every_milestone_as_json_across_national_day():
    out = run("due", "--received", "2026-09-30T09:10", "--grade", "moderate", "--json")
    assert out.returncode == 0, out.stderr
    due = json.loads(out.stdout)
    assert due == {
        "acknowledge": "2026-10-08T23:59:59+08:00",
        "plan": "2026-10-10T23:59:59+08:00",
        "dept_feedback": "2026-10-09T23:59:59+08:00",
        "resolve": "2026-10-15T23:59:59+08:00",
        "feedback": "2026-10-16T23:59:59+08:00",
        "revisit_from": "2026-10-21T00:00:00+08:00",
        "revisit_until": "2026-10-27T23:59:59+08:00",
        "appeal_risk": "2026-10-15T09:10:00+08:00",
    }


def test_due_converts_a_utc_receipt_to_shanghai_first():
    out = run("due", "--received", "2026-02-13T17:00:00Z", "--grade", "minor", "--json")
    assert json.loads(out.stdout)["acknowledge"] == "2026-02-24T23:59:59+08:00"


def test_due_in_an_unpublished_year_says_pending_calendar():
    out = run("due", "--received", "2026-12-28T09:00", "--grade", "major", "--json")
    due = json.loads(out.stdout)
    assert due["acknowledge"] == "2026-12-29T23:59:59+08:00"
    assert due["resolve"] == due["revisit_until"] == "pending_calendar"


def test_due_reads_the_operators_calendar_file(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"published": {"CN": [2027]}, "entries": []}), encoding="utf-8")
    out = run("--calendar", str(path), "due", "--received", "2026-12-28T09:00", "--grade", "major", "--json")
    assert json.loads(out.stdout)["resolve"] == "2027-01-18T23:59:59+08:00"


def test_due_human_output_has_chinese_and_english_labels():
    out = run("due", "--received", "2026-03-02T09:10", "--grade", "minor")
    assert "首次响应" in out.stdout and "Acknowledge" in out.stdout
    assert "2026-03-03T23:59:59+08:00" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--received", "yesterday", "--grade", "minor"], "not an ISO datetime"),
        (["--received", "2026-03-02T09:10", "--grade", "minor", "--tz", "Mars/Base"], "unknown time zone"),
    ],
)
def test_due_rejects_bad_input_with_a_clear_message(args, message):
    out = run("due", *args)
    assert out.returncode != 0
    assert message in out.stderr


def test_calendar_status_lists_years_and_warns_about_next_year_from_november():
    out = run("calendar", "status", "--today", "2026-11-29")
    assert "2004–2026: chinesecalendar" in out.stdout
    assert "2027" in out.stderr and out.returncode == 1
    quiet = run("calendar", "status", "--today", "2026-10-31")
    assert quiet.returncode == 0 and quiet.stderr == ""
