"""The driver-level bulk insert stores exactly what SQLAlchemy's own insert stores, on both databases.

Every query of the dashboard, the pull and the figures compares stored values
(timestamps as text on SQLite): a row written another way would be missed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from flask import Flask
from sqlalchemy import insert, select

from server.auth import BRANCH, issue_token
from server.storage.db import get_db
from server.storage.models import BranchRow, HistoryRow, LogRow, tickets_table
from server.storage.writes import insert_rows
from tests.server.api.conftest import NOW

SHANGHAI = timezone(timedelta(hours=8))
TICKET = "0123456789abcdef" * 2


def _log_rows(branch_id: int, tag: str) -> list[dict[str, Any]]:
    base = datetime(2026, 10, 1, 0, 0, 0, 123456, tzinfo=SHANGHAI)
    return [
        {
            "sync_key": f"{tag}{n:03d}",
            "ticket_key": TICKET,
            "branch_id": branch_id,
            "ticket_id": "SZ01-20261001-0001",
            "at": base + timedelta(minutes=n) if n % 3 else base.replace(microsecond=0),
            "kind": "progress",
            "text": "已联系客户，约定明天上门 \u2028 second line" if n % 2 else "",
            "change_seq": n,
            "author": "张三" if n % 4 else "",
        }
        for n in range(12)
    ]


def _stored(connection: Any, table: Any, tag: str, skip: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows whose key starts with ``tag`` (one letter) as the database holds them.

    No type conversion on the way back: SQLite keeps times as text, and text is what its queries compare.
    """
    key = "sync_key" if "sync_key" in table.c else "entity_key"
    columns = ", ".join(c.name for c in table.c if c.name not in ("id", key, *skip))
    where = f"substr({key}, 1, 1) = '{tag}' AND length({key}) <= 4"  # not the push's own (random) keys
    query = f"SELECT {columns} FROM {table.name} WHERE {where} ORDER BY {key}"
    return [tuple(row) for row in connection.exec_driver_sql(query)]


def test_bulk_insert_stores_what_sqlalchemy_stores(app: Flask) -> None:
    with app.app_context():
        db = get_db()
        with db.write() as session:
            branch = BranchRow(code="SZ01", timezone="Asia/Shanghai", change_seq=0, created_at=NOW)
            session.add(branch)
            session.flush()
            branch_id = branch.id
            token = issue_token(session, BRANCH, NOW, branch=branch)[1]
    fields = {
        "ticket_id": "SZ01-20261001-0001",
        "received_at": "2026-10-01T09:30:00+08:00",
        "channel": "hotline",
        "customer_name": "王五",
        "contact": "13800000000",
        "category": "network_fault",
        "place": "翠湖小区3栋",
        "description": "每晚八点宽带断线",
        "media_exposure": True,
    }
    pushed = app.test_client().post(
        "/api/sync",
        json={"tickets": [{"sync_key": TICKET, "base_version": None, "fields": fields}]},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "bulk-1"},
    )
    assert pushed.status_code == 200, pushed.json
    with app.app_context():
        with db.write() as session:
            connection = session.connection()
            stored = dict(
                connection.execute(select(tickets_table).where(tickets_table.c.sync_key == TICKET))
                .one()
                ._mapping
            )
            assert stored["media_exposure"] and stored["level"] == "red"
            for tag, write in (
                ("a", lambda rows: connection.execute(insert(tickets_table), rows)),
                ("b", lambda rows: insert_rows(connection, tickets_table, rows)),
            ):
                write([stored | {"sync_key": f"{tag}t", "ticket_id": f"SZ01-20261001-9{tag}"}])
            connection.execute(insert(LogRow.__table__), _log_rows(branch_id, "a"))
            insert_rows(connection, LogRow.__table__, _log_rows(branch_id, "b"))
            history = [
                {
                    "entity": "ticket",
                    "entity_key": f"{tag}{n}",
                    "version": n + 1,
                    "field": "contact",
                    "old_value": None,
                    "new_value": '"13800000000"',
                    "by": "SZ01",
                    "source": "api",
                    "at": datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
                }
                for tag in "cd"
                for n in range(3)
            ]
            connection.execute(insert(HistoryRow.__table__), history[:3])
            insert_rows(connection, HistoryRow.__table__, history[3:])
        with db.engine.connect() as connection:
            by_sqlalchemy = _stored(connection, LogRow.__table__, "a")
            by_driver = _stored(connection, LogRow.__table__, "b")
            assert len(by_driver) == 12 and by_driver == by_sqlalchemy
            by_sqlalchemy = _stored(connection, tickets_table, "a", skip=("ticket_id",))
            assert (
                len(by_sqlalchemy) == 1
                and _stored(connection, tickets_table, "b", skip=("ticket_id",)) == by_sqlalchemy
            )
            assert _stored(connection, HistoryRow.__table__, "d") == _stored(
                connection, HistoryRow.__table__, "c"
            )
            # read back as the service reads: aware UTC, the same instant
            (at,) = connection.execute(select(LogRow.at).where(LogRow.sync_key == "b001")).one()
            assert at == datetime(2026, 10, 1, 0, 1, 0, 123456, tzinfo=SHANGHAI)
            # a comparison in SQL finds driver rows and SQLAlchemy rows alike
            since = datetime(2026, 9, 30, 16, 5, tzinfo=UTC)
            ours = [row["sync_key"] for tag in "ab" for row in _log_rows(branch_id, tag)]
            found = (
                connection.execute(
                    select(LogRow.sync_key).where(LogRow.at >= since, LogRow.sync_key.in_(ours))
                )
                .scalars()
                .all()
            )
            by_kind = {tag: {k[1:] for k in found if k[0] == tag} for tag in "ab"}
            assert by_kind["a"] == by_kind["b"] and 0 < len(by_kind["b"]) < 12
