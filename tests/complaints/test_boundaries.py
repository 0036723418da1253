"""The one-way rules of the layout (DESIGN §2), each guarded.

complaints/ stays pure (no Flask, xlwings, openpyxl, APScheduler, no wall
clock, neither server nor addin); addin/ talks to the server over HTTP only;
server/xlsx/ knows file formats only; the doors write only through services;
server/ keeps its modules in rooms; the models match the migrations.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, MetaData, String, create_engine

from server import create_app
from server.storage.models import UNMAPPED, Base
from tests.server.api.conftest import database_url  # noqa: F401 (fixture: SQLite and PostgreSQL)

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "complaints"
FORBIDDEN = ("flask", "xlwings", "openpyxl", "apscheduler", "sqlalchemy", "python_calamine")


def imported_names(path: Path, root: Path = REPO) -> set[str]:
    """Every module the file imports, at any depth, also as ``module.name`` for ``from module import name``.

    Relative imports are resolved against the file's package (its folders below ``root``).
    """
    package = path.relative_to(root).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def reaching(path: Path, modules: tuple[str, ...], root: Path = REPO) -> set[str]:
    """The imports of ``path`` that are one of ``modules`` or inside one."""
    return {n for n in imported_names(path, root) for m in modules if n == m or n.startswith(m + ".")}


def imported_roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_names(path)}


def loaded_after_importing(modules: list[str], watched: tuple[str, ...]) -> set[str]:
    """Which of the top-level packages ``watched`` a fresh interpreter holds after importing ``modules``."""
    code = (
        f"import importlib, sys\nfor m in {modules!r}: importlib.import_module(m)\n"
        f"print(','.join(sorted(set({watched!r}) & {{m.split('.')[0] for m in sys.modules}})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    return set(filter(None, out.stdout.strip().split(",")))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# --- complaints/: the domain core ------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_no_framework(path):
    assert imported_roots(path).isdisjoint(FORBIDDEN)


@pytest.mark.parametrize("path", sorted(PACKAGE.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_neither_the_server_nor_the_addin(path):
    assert reaching(path, ("server", "addin")) == set()


def test_importing_every_domain_module_loads_no_framework():
    modules = [f"complaints.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem not in ("__main__", "__init__")]
    assert loaded_after_importing(modules, (*FORBIDDEN, "server", "addin")) == set()


RULE_MODULES = sorted(p for p in PACKAGE.glob("*.py") if p.name != "cli.py")  # the CLI may default to today


@pytest.mark.parametrize("path", RULE_MODULES, ids=lambda p: p.name)
def test_rules_never_read_the_wall_clock(path):
    text = path.read_text(encoding="utf-8")
    assert "datetime.now(" not in text and "date.today(" not in text and "time.time(" not in text


# --- addin/: the Excel side talks to the server over HTTP only -------------------------------------------

ADDIN = sorted((REPO / "addin").rglob("*.py"))


@pytest.mark.parametrize("path", ADDIN, ids=lambda p: str(p.relative_to(REPO)))
def test_addin_module_never_imports_the_server(path):
    assert reaching(path, ("server",)) == set()


def test_importing_every_addin_module_loads_no_server_code():
    assert loaded_after_importing([module_name(p) for p in ADDIN], ("server", "flask", "sqlalchemy")) == set()


# --- server/xlsx/: file formats only ---------------------------------------------------------------------

XLSX = sorted((REPO / "server" / "xlsx").rglob("*.py"))
NOT_FOR_FILE_FORMATS = (
    "server.storage",
    "server.services",
    "sqlalchemy",
    "flask",
    "multiprocessing",
    "concurrent.futures.process",
    "concurrent.futures.ProcessPoolExecutor",
)
"""The database, the services, the web framework and process pools: callers pass rows in."""


@pytest.mark.parametrize("path", XLSX, ids=lambda p: p.name)
def test_xlsx_module_knows_file_formats_only(path):
    assert reaching(path, NOT_FOR_FILE_FORMATS) == set()


def test_the_file_format_guard_sees_every_way_of_importing(tmp_path):
    sample = tmp_path / "server" / "xlsx" / "sample.py"
    sample.parent.mkdir(parents=True)
    sample.write_text(
        "from .. import storage\nfrom concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor\n"
        "def later():\n    import multiprocessing.pool\n    from sqlalchemy.orm import Session\n",
        encoding="utf-8",
    )
    assert reaching(sample, NOT_FOR_FILE_FORMATS, root=tmp_path) == {
        "server.storage",
        "concurrent.futures.ProcessPoolExecutor",
        "multiprocessing.pool",
        "sqlalchemy.orm",
        "sqlalchemy.orm.Session",
    }


# --- the doors: HTTP only; every change goes through a service -------------------------------------------

DOORS = sorted(
    p
    for room in ("api", "dashboard", "portal", "remote", "admin")
    for p in (REPO / "server" / room).rglob("*.py")
)
SQL_WRITES = ("sqlalchemy.insert", "sqlalchemy.update", "sqlalchemy.delete", "sqlalchemy.dialects")
SESSION_WRITES = {
    "add",
    "add_all",
    "delete",
    "merge",
    "bulk_save_objects",
    "bulk_insert_mappings",
    "bulk_update_mappings",
}
TABLE_WRITES = {"insert", "update", "delete"}


def writes(path: Path) -> list[str]:
    """Calls that write through SQLAlchemy: ``session.add(…)`` and the like, ``some_table.insert()``.

    Sessions and tables are known by the names this code gives them (``session``,
    ``db_session``, ``db``; ``*_table``).
    """
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        owner, method = node.func.value, node.func.attr
        if not isinstance(owner, ast.Name):
            continue
        session = owner.id == "db" or "session" in owner.id.lower()
        if (session and method in SESSION_WRITES) or (owner.id.endswith("_table") and method in TABLE_WRITES):
            found.append(f"line {node.lineno}: {owner.id}.{method}(…)")
    return found


@pytest.mark.parametrize("path", DOORS, ids=lambda p: str(p.relative_to(REPO / "server")))
def test_door_never_writes_through_sqlalchemy(path):
    assert reaching(path, SQL_WRITES) == set()
    assert writes(path) == []


def test_the_write_guard_sees_session_and_table_writes(tmp_path):
    sample = tmp_path / "door.py"
    sample.write_text(
        "def save(db_session, db, row, tickets_table):\n"
        "    db_session.add(row)\n    db.delete(row)\n    tickets_table.update()\n    {}.update()\n",
        encoding="utf-8",
    )
    assert writes(sample) == [
        "line 2: db_session.add(…)",
        "line 3: db.delete(…)",
        "line 4: tickets_table.update(…)",
    ]


DOORS_STILL_QUERYING = {
    "api/sync.py",  # Session as a type only
    "api/tickets.py",  # the ticket list and detail
    "admin/pages.py",  # outbox and reports
    "dashboard/figures.py",  # overview counts
    "dashboard/queries.py",  # ticket list, detail, branch codes
    "portal/merge.py",  # Session as a type only
}
"""Doors that still import SQLAlchemy to read: to move into server/storage/, never to grow."""


def test_no_other_door_imports_sqlalchemy():
    importing = {str(p.relative_to(REPO / "server")) for p in DOORS if reaching(p, ("sqlalchemy",))}
    assert importing <= DOORS_STILL_QUERYING


# --- server/: modules live in rooms ----------------------------------------------------------------------

COMMAND_MAKERS = ("click.command", "click.group", "app.cli", "AppGroup")


def test_flask_commands_live_only_in_the_cli_room():
    outside = sorted(p for p in (REPO / "server").rglob("*.py") if "cli" not in p.relative_to(REPO).parts)
    makers = {
        str(p.relative_to(REPO)): [m for m in COMMAND_MAKERS if m in p.read_text(encoding="utf-8")]
        for p in outside
    }
    assert {path: found for path, found in makers.items() if found} == {}


def test_server_keeps_at_most_ten_modules_outside_its_rooms():
    loose = sorted(p.name for p in (REPO / "server").glob("*.py") if p.name != "__init__.py")
    assert len(loose) <= 10, loose


# --- the models match the migrations ---------------------------------------------------------------------


def differences(url: str, metadata: MetaData) -> list[object]:
    """What Alembic's autogenerate would change to bring the database at ``url`` to ``metadata``."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "compare_server_default": True,
                    "include_name": lambda name, kind, parent: not (name or "").startswith(UNMAPPED),
                },
            )
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def test_the_models_match_the_migrations(database_url):  # noqa: F811
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    upgraded = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert differences(database_url, Base.metadata) == []
    # the comparison does look: a column the migrations lack is found
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["branches"].append_column(Column("nickname", String(40)))
    assert [d[:3] for d in differences(database_url, drifted)] == [("add_column", None, "branches")]  # type: ignore[index]
