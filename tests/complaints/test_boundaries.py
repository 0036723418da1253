"""Dependencies point one way (DESIGN §2): complaints/ stays pure; the add-in reaches the server by HTTP only.

complaints/ imports no Flask, xlwings, openpyxl or APScheduler (nor the add-in or the server) and
never reads the wall clock; addin/ never imports server/.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "complaints"
ADDIN = ROOT / "addin"
FORBIDDEN = (
    "flask",
    "xlwings",
    "openpyxl",
    "apscheduler",
    "sqlalchemy",
    "python_calamine",
    "addin",
    "server",
)


def imported_roots(path: Path) -> set[str]:
    """Top-level packages a module imports, wherever the import statement stands (also inside functions)."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def loaded_after_import(modules: list[str], watched: tuple[str, ...]) -> set[str]:
    """Which of ``watched`` are in sys.modules after importing ``modules`` in a fresh interpreter."""
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(','.join(sorted(set({watched!r}) & {{n.split('.')[0] for n in sys.modules}})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return {name for name in out.stdout.strip().split(",") if name}


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_no_framework(path):
    assert imported_roots(path).isdisjoint(FORBIDDEN)


def test_importing_every_domain_module_loads_no_framework():
    modules = [f"complaints.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem not in ("__main__", "__init__")]
    assert loaded_after_import(modules, FORBIDDEN) == set()


RULE_MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name != "cli.py")  # the CLI may default to today


@pytest.mark.parametrize("path", RULE_MODULES, ids=lambda p: p.name)
def test_rules_never_read_the_wall_clock(path):
    text = path.read_text(encoding="utf-8")
    assert "datetime.now(" not in text and "date.today(" not in text and "time.time(" not in text


ADDIN_MODULES = sorted(ADDIN.rglob("*.py"))


@pytest.mark.parametrize("path", ADDIN_MODULES, ids=lambda p: str(p.relative_to(ADDIN)))
def test_add_in_module_never_imports_the_server(path):
    assert "server" not in imported_roots(path)


def test_importing_every_add_in_module_loads_nothing_of_the_server():
    modules = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__") for p in ADDIN_MODULES
    ]
    assert loaded_after_import(modules, ("server",)) == set()
