"""Back up the whole database while the service runs, and restore a backup.

SQLite (the embedded default): the online backup API copies every page in one
step, inside one read transaction, so the copy is the database as of one
moment; with WAL the writers carry on meanwhile. PostgreSQL: ``pg_dump`` in its
custom format, consistent by its own snapshot, and ``pg_restore`` in a single
transaction. A restore checks the file before it touches anything: a broken or
foreign file, or one of the other engine, leaves the target as it was.

Backups the scheduler makes are named ``complaint-desk-<UTC time>.<kind>``;
`prune` keeps the newest of those and never looks at any other file.

Evidence files (attachments) are not in the database: each is a file named by its
SHA-256. A backup copies those it does not have yet into ``evidence/`` beside the
backup file (shared by the backups of one folder: a file never changes, so the
copy is incremental); a restore copies back the ones the store lacks, each
checked against its name, so a damaged copy is reported, not restored.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, make_url, text

from server.files import private_open
from server.storage.db import Database, alembic_config
from server.storage.evidence import file_sha256

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
SUFFIX = {"sqlite": "sqlite3", "postgresql": "pgdump"}
OUR_NAME = re.compile(r"^complaint-desk-(\d{8}T\d{6}Z)\.(sqlite3|pgdump)$")
DATA_TABLES = ("branches", "users", "tickets")
"""A database with a row in any of these holds data a restore would overwrite."""
MARK_TABLES = ("alembic_version", "branches", "tickets", "history")
"""Tables every Complaint Desk database has: a file without them is not ours."""


EVIDENCE = "evidence"
"""The folder beside a backup file holding the evidence files."""


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do, in zh and en."""


@dataclass(frozen=True)
class BackupInfo:
    """A backup file: its engine, schema revision and size; ``seconds`` it took to make (0 when read)."""

    path: Path
    kind: str
    revision: str
    size: int
    seconds: float = 0.0
    evidence_copied: int = 0
    """Evidence files copied into the backup's ``evidence/`` folder this time."""


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did: the data it replaced, what the database now holds, a schema upgrade if any."""

    source: BackupInfo
    target: str
    replaced: dict[str, int]
    now_holds: dict[str, int]
    upgraded_to: str | None
    seconds: float
    evidence_restored: int = 0
    evidence_damaged: tuple[str, ...] = ()
    """Backed-up evidence files whose content no longer matches their name: left out."""


def dated_name(now: datetime, kind: str) -> str:
    """The name of a backup made at ``now``: sortable, UTC, recognised by `prune`."""
    return f"complaint-desk-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.{SUFFIX[kind]}"


def kind_of(db: Database) -> str:
    return "sqlite" if db.is_sqlite else "postgresql"


def backup(db: Database, target: Path, replace: bool = False, evidence: Path | None = None) -> BackupInfo:
    """Write a consistent copy of ``db`` to ``target`` (written aside, then renamed into place).

    ``evidence``: the evidence folder, whose new files are copied beside the backup
    (after the database: a file attached meanwhile is copied with the next backup).
    """
    target = Path(target)
    if target.exists() and not replace:
        raise BackupError(f"{target} 已存在，请换一个文件名 | {target} exists; choose another name")
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    began = time.perf_counter()
    try:
        with private_open(partial):
            pass  # customer data: readable by the service's user only; the copy written into it keeps that
        if db.is_sqlite:
            _sqlite_backup(_sqlite_path(db), partial)
        else:
            _run(["pg_dump", "--format=custom", "--file", str(partial), "--dbname", _dsn(db)], db)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    copied = copy_evidence(evidence, target.parent / EVIDENCE)[0] if evidence is not None else 0
    seconds = time.perf_counter() - began
    info = read_backup(target)
    return BackupInfo(target, info.kind, info.revision, info.size, seconds, copied)


def copy_evidence(source: Path, target: Path) -> tuple[int, list[str]]:
    """Copy the evidence files of ``source`` that ``target`` lacks; (how many, names of damaged ones).

    A file whose content does not hash to its name is damaged: it is not copied.
    """
    copied, damaged = 0, []
    if not source.is_dir():
        return 0, []
    for path in sorted(source.glob("??/*")):
        name = path.name
        if len(name) != 64 or name.startswith(".") or not path.is_file():
            continue  # a temporary file of an upload under way
        destination = target / name[:2] / name
        if destination.is_file():
            continue
        if file_sha256(path) != name:
            damaged.append(name)
            continue
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = destination.with_name(f".{name}.partial")
        with path.open("rb") as source, private_open(partial) as copy:
            shutil.copyfileobj(source, copy, 1 << 20)  # a kept workbook may be hundreds of MB
        os.replace(partial, destination)
        copied += 1
    return copied, damaged


def read_backup(path: Path) -> BackupInfo:
    """Check that ``path`` is a whole Complaint Desk backup; its engine and schema revision."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"找不到备份文件 {path} | no backup file at {path}")
    with path.open("rb") as handle:
        head = handle.read(len(SQLITE_MAGIC))
    if head.startswith(SQLITE_MAGIC):
        tables, revision = _sqlite_contents(path)
        kind = "sqlite"
    elif head.startswith(PGDUMP_MAGIC):
        tables, revision = _pgdump_contents(path)
        kind = "postgresql"
    else:
        raise BackupError(
            f"{path} 不是 Complaint Desk 备份（既不是 SQLite 数据库，也不是 pg_dump 自定义格式归档）"
            f" | {path} is not a Complaint Desk backup (neither a SQLite database nor a pg_dump "
            "custom-format archive)"
        )
    missing = [t for t in MARK_TABLES if t not in tables]
    if missing or not revision:
        raise BackupError(
            f"{path} 不是 Complaint Desk 备份：缺少表 {', '.join(missing) or 'alembic_version 的版本'}"
            f" | {path} is not a Complaint Desk backup: it lacks "
            f"{', '.join(missing) or 'a schema revision'}"
        )
    if revision not in _known_revisions():
        raise BackupError(
            f"{path} 的数据库结构版本 {revision} 比本程序新，请先升级程序 | {path} has schema revision "
            f"{revision}, newer than this version of Complaint Desk knows: upgrade the code first"
        )
    return BackupInfo(path, kind, revision, path.stat().st_size)


def holdings(db: Database) -> dict[str, int]:
    """Rows in the tables that make a database worth keeping (absent tables count none)."""
    with db.engine.connect() as connection:
        present = set(inspect(connection).get_table_names())
        return {
            t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() if t in present else 0
            for t in DATA_TABLES
        }


def restore(db: Database, source: Path, force: bool = False, evidence: Path | None = None) -> RestoreReport:
    """Replace ``db``'s contents with the backup ``source``; refuse over data unless ``force``.

    The service should be stopped meanwhile: on PostgreSQL the restore waits
    for every open transaction, on SQLite the running service would see the
    database change under it.
    """
    info = read_backup(source)
    kind = kind_of(db)
    where = db.engine.url.render_as_string(hide_password=True)
    if info.kind != kind:
        raise BackupError(
            f"{source} 是 {info.kind} 备份，目标数据库是 {kind}，不能跨引擎恢复 | {source} is a "
            f"{info.kind} backup and {where} is {kind}: restore it into a {info.kind} database"
        )
    if db.is_sqlite:
        _sqlite_path(db)  # an in-memory URL is refused before anything is read
    replaced = holdings(db)
    if any(replaced.values()) and not force:
        counts = ", ".join(f"{n} {t}" for t, n in replaced.items())
        raise BackupError(
            f"目标数据库 {where} 已有数据（{counts}），未做任何改动；确认覆盖请加 --force | the database "
            f"{where} holds data ({counts}); nothing was changed. Add --force to replace it"
        )
    began = time.perf_counter()
    db.dispose()  # no pooled connection of ours keeps a lock or a stale page
    if db.is_sqlite:
        _sqlite_restore(info.path, _sqlite_path(db))
    else:
        _run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                "--dbname",
                _dsn(db),
                str(info.path),
            ],
            db,
        )
    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    upgraded = None
    if info.revision != head:
        db.upgrade()
        upgraded = head
    restored, damaged = copy_evidence(info.path.parent / EVIDENCE, evidence) if evidence else (0, [])
    seconds = time.perf_counter() - began
    return RestoreReport(info, where, replaced, holdings(db), upgraded, seconds, restored, tuple(damaged))


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups named by `dated_name` in ``directory``; the deleted."""
    ours = sorted(
        (m.group(1), p) for p in Path(directory).iterdir() if p.is_file() and (m := OUR_NAME.match(p.name))
    )
    old = [p for _, p in ours[: max(len(ours) - max(keep, 1), 0)]]
    for path in old:
        path.unlink()
    return old


def _sqlite_path(db: Database) -> Path:
    name = make_url(db.url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(
            f"无法备份内存数据库 {db.url} | {db.url} is not a database file: nothing to back up or restore"
        )
    return Path(name)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"找不到数据库文件 {source} | no database file at {source}")
    with closing(sqlite3.connect(source, timeout=30)) as src, closing(sqlite3.connect(target)) as dst:
        # pages=-1: every page in one step, one read transaction, one moment; writers go on (WAL)
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as src,
        closing(sqlite3.connect(target, timeout=30)) as dst,
    ):
        src.backup(dst, pages=-1)  # one write transaction on the target: all or nothing
        dst.execute("PRAGMA journal_mode=WAL")


def _sqlite_contents(path: Path) -> tuple[set[str], str]:
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{path} 已损坏：{check} | {path} is damaged: {check}")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            revision = ""
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else ""
    except sqlite3.DatabaseError as exc:
        problem = f"{path} 已损坏或不是数据库：{exc} | {path} is damaged or not a database: {exc}"
        raise BackupError(problem) from exc
    return tables, revision


def _pgdump_contents(path: Path) -> tuple[set[str], str]:
    try:
        listing = _run(["pg_restore", "--list", str(path)], None)
        _run(["pg_restore", f"--file={os.devnull}", str(path)], None)  # reads it all: a cut file fails here
        data = _run(["pg_restore", "--data-only", "--table=alembic_version", "--file=-", str(path)], None)
    except BackupError as exc:
        raise BackupError(f"{path} 已损坏或不完整 | {path} is damaged or incomplete: {exc}") from exc
    tables = {m.group(1) for m in re.finditer(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing, re.MULTILINE)}
    rows = re.search(r"^COPY \S*alembic_version .*? FROM stdin;\n(.*?)^\\\.$", data, re.MULTILINE | re.DOTALL)
    revision = rows.group(1).strip() if rows else ""
    return tables, revision


def _known_revisions() -> set[str]:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {s.revision for s in scripts.walk_revisions()}


def _dsn(db: Database) -> str:
    """A libpq connection URI for ``db``, without its password (that goes in PGPASSWORD)."""
    return make_url(db.url).set(drivername="postgresql", password=None).render_as_string(hide_password=False)


def _run(command: list[str], db: Database | None) -> str:
    """Run a PostgreSQL client tool; its error output becomes the message."""
    tool = shutil.which(command[0])
    if tool is None:
        raise BackupError(
            f"找不到 {command[0]}：请安装 postgresql-client（不低于服务器的主版本） | {command[0]} is not "
            "installed: install postgresql-client, of the server's major version or newer"
        )
    env = dict(os.environ)
    password = make_url(db.url).password if db is not None else None
    if password:
        env["PGPASSWORD"] = str(password)
    done = subprocess.run([tool, *command[1:]], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit status {done.returncode}"
        raise BackupError(f"{command[0]} 失败：{detail} | {command[0]} failed: {detail}")
    return done.stdout
