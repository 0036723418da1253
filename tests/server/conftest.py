"""Fixtures for the workbook tests: a pinned "now", real workbooks, and LibreOffice when present."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.server.workbook_factories import NOW, save_template

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
LIBREOFFICE_TIMEOUT = 180


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def template_zh(tmp_path: Path) -> Path:
    return save_template(tmp_path / "SZ01.xlsx", "zh")


@pytest.fixture
def template_en(tmp_path: Path) -> Path:
    return save_template(tmp_path / "SZ01-en.xlsx", "en")


Convert = Callable[[Path, str], Path]


@pytest.fixture(scope="session")
def libreoffice(tmp_path_factory: pytest.TempPathFactory) -> Convert:
    """``convert(path, "xlsx" | "pdf")``: open ``path`` in headless LibreOffice and save it in that format.

    Skipped when LibreOffice is not installed, unless REQUIRE_LIBREOFFICE is set
    (as in CI), where its absence fails the tests instead.
    """
    if SOFFICE is None:
        if os.environ.get("REQUIRE_LIBREOFFICE"):
            pytest.fail("REQUIRE_LIBREOFFICE is set but soffice is not installed")
        pytest.skip("LibreOffice (soffice) is not installed")
    profile = tmp_path_factory.mktemp("libreoffice-profile")

    def convert(path: Path, fmt: str) -> Path:
        outdir = path.parent / f"libreoffice-{fmt}"
        outdir.mkdir(exist_ok=True)
        command = [
            str(SOFFICE),
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            fmt,
            "--outdir",
            str(outdir),
            str(path),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=LIBREOFFICE_TIMEOUT)
        result = outdir / f"{path.stem}.{fmt}"
        if done.returncode != 0 or not result.exists():
            raise AssertionError(f"LibreOffice failed ({done.returncode}): {done.stdout}\n{done.stderr}")
        return result

    return convert


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "libreoffice: opens workbooks in headless LibreOffice (soffice)")
