"""Compiled templates are kept between processes: a fresh one loads a notice's e-mail, not compiling it."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import jinja2
import pytest
from flask import Flask

from complaints.enums import Grade
from server import create_app
from server.services.notices import Notice, emergency_notice
from server.storage.models import BranchRow
from tests.factories import make_ticket


def desk(tmp_path: Path, cache: Path) -> Flask:
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'desk.db'}",
            "TEMPLATE_CACHE_DIR": str(cache),
        }
    )


def notice(app: Flask) -> Notice:
    branch = BranchRow(id=1, code="SZ01", name="深圳分公司", timezone="Asia/Shanghai")
    ticket = make_ticket(sync_key="0" * 32, grade=Grade.MAJOR, contact="13800138000")
    with app.app_context():
        return emergency_notice(branch, ticket, "senior", "王总", "wang@example.com", False, "zh")


def refuse_to_compile(monkeypatch: pytest.MonkeyPatch) -> None:
    def compiled(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the template was compiled again")

    monkeypatch.setattr(jinja2.Environment, "_compile", compiled)


def test_a_fresh_process_renders_a_notice_from_the_template_compiled_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = notice(desk(tmp_path, tmp_path / "cache"))
    refuse_to_compile(monkeypatch)
    # a new app: a new Jinja environment, as in a new process
    again = notice(desk(tmp_path, tmp_path / "cache"))
    assert again == first
    assert "138****8000" in again.body


def test_a_cache_that_cannot_be_written_costs_a_compile_not_the_notice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "file").write_text("")
    unmade = notice(desk(tmp_path, tmp_path / "file" / "cache"))  # the folder cannot be made

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full)
    unwritten = notice(desk(tmp_path, tmp_path / "cache"))  # made, but nothing can be written in it
    assert unwritten == unmade
    assert not list((tmp_path / "cache").iterdir())
