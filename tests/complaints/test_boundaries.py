"""complaints/ stays pure: no Flask, xlwings, openpyxl or APScheduler, and no wall clock."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "complaints"
FORBIDDEN = ("flask", "xlwings", "openpyxl", "apscheduler", "sqlalchemy", "python_calamine")


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_no_framework(path):
    assert imported_roots(path).isdisjoint(FORBIDDEN)


def test_importing_every_domain_module_loads_no_framework():
    modules = ",".join(
        f"complaints.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem not in ("__main__", "__init__")
    )
    code = (
        f"import importlib, sys\nfor m in '{modules}'.split(','): importlib.import_module(m)\n"
        f"print(','.join(sorted(set({FORBIDDEN!r}) & set(sys.modules))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


RULE_MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name != "cli.py")  # the CLI may default to today


@pytest.mark.parametrize("path", RULE_MODULES, ids=lambda p: p.name)
def test_rules_never_read_the_wall_clock(path):
    text = path.read_text(encoding="utf-8")
    assert "datetime.now(" not in text and "date.today(" not in text and "time.time(" not in text
