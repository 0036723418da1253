"""Leader election for the scheduler: exactly one process runs the jobs; the others stand by.

PostgreSQL: a session-level advisory lock taken on a dedicated connection and
held for as long as the process leads; when the process dies its connection
closes and the server releases the lock at once. SQLite (one machine): a lease
row with holder and expiry, renewed by the leader and taken over by a standby
once expired. Either way the ``scheduler_leases`` row says who leads (host,
pid, since), and `Lease.fence` lets a job run check, inside the transaction
that claims its slot, that this process still holds the lease.

Lease times are wall-clock times (`system_now`), never the app's injectable
clock: a test that pins "now" for the rules must not freeze the lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection, create_engine, select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from server.clock import system_now
from server.storage.db import Database
from server.storage.models import SchedulerLeaseRow

logger = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
ADVISORY_KEY = 0x436F6D706C61696E  # "Complain": one advisory lock per database, for the scheduler
_CLASSID, _OBJID = ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFFFFFF


def holder_id() -> str:
    """This process's name as a lease holder: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease(ABC):
    """The right to run the scheduler's jobs, held by at most one process of a database."""

    def __init__(self, db: Database, wall: Callable[[], datetime] = system_now) -> None:
        self.db = db
        self.wall = wall
        self.holder = holder_id()

    @abstractmethod
    def acquire(self) -> bool:
        """Take the lease if it is free (or ours); True if this process now leads."""

    @abstractmethod
    def renew(self) -> bool:
        """Keep the lease; False when it is lost and the process must stop leading."""

    @abstractmethod
    def release(self) -> None:
        """Give the lease up so a standby takes over at once."""

    @abstractmethod
    def fence(self, session: Session) -> bool:
        """Inside ``session``'s transaction: does this process still hold the lease?"""

    def _record(self, session: Session, expires_at: datetime | None) -> None:
        now = self.wall()
        row = session.get(SchedulerLeaseRow, LEASE_NAME, populate_existing=True)
        host, pid = socket.gethostname(), os.getpid()
        if row is None:
            session.add(
                SchedulerLeaseRow(
                    name=LEASE_NAME,
                    holder=self.holder,
                    host=host,
                    pid=pid,
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=expires_at,
                )
            )
            return
        if row.holder != self.holder:
            row.acquired_at = now
        row.holder, row.host, row.pid, row.renewed_at, row.expires_at = (
            self.holder,
            host,
            pid,
            now,
            expires_at,
        )


class SqliteLease(Lease):
    """A lease row renewed by its holder; free once ``expires_at`` has passed."""

    def __init__(self, db: Database, ttl: float, wall: Callable[[], datetime] = system_now) -> None:
        super().__init__(db, wall)
        self.ttl = timedelta(seconds=ttl)
        self.expires_at: datetime | None = None

    def acquire(self) -> bool:
        with self.db.read() as session:  # look first without taking the write lock
            row = session.get(SchedulerLeaseRow, LEASE_NAME)
            if row is not None and row.holder != self.holder and _live(row, self.wall()):
                return False
        with self.db.write() as session:
            row = session.get(SchedulerLeaseRow, LEASE_NAME, populate_existing=True)
            if row is not None and row.holder != self.holder and _live(row, self.wall()):
                return False
            self.expires_at = self.wall() + self.ttl
            self._record(session, self.expires_at)
        return True

    def renew(self) -> bool:
        now = self.wall()
        try:
            with self.db.write() as session:
                result = session.execute(
                    update(SchedulerLeaseRow)
                    .where(
                        SchedulerLeaseRow.name == LEASE_NAME,
                        SchedulerLeaseRow.holder == self.holder,
                        SchedulerLeaseRow.expires_at > now,
                    )
                    .values(renewed_at=now, expires_at=now + self.ttl)
                )
                held = bool(result.rowcount)
        except OperationalError:
            logger.warning("scheduler lease: cannot renew (database busy); keeping it until it expires")
            return self.expires_at is not None and now < self.expires_at
        if held:
            self.expires_at = now + self.ttl
        return held

    def release(self) -> None:
        with self.db.write() as session:
            session.execute(
                update(SchedulerLeaseRow)
                .where(SchedulerLeaseRow.name == LEASE_NAME, SchedulerLeaseRow.holder == self.holder)
                .values(expires_at=self.wall())
            )
        self.expires_at = None

    def fence(self, session: Session) -> bool:
        row = session.get(SchedulerLeaseRow, LEASE_NAME, populate_existing=True)
        return row is not None and row.holder == self.holder and _live(row, self.wall())


def _live(row: SchedulerLeaseRow, now: datetime) -> bool:
    return row.expires_at is not None and row.expires_at > now


class PostgresLease(Lease):
    """A session-level advisory lock held on a connection of its own for as long as the process leads."""

    def __init__(self, db: Database, wall: Callable[[], datetime] = system_now) -> None:
        super().__init__(db, wall)
        self._engine = create_engine(db.url, poolclass=NullPool)
        self._conn: Connection | None = None
        self._backend_pid = 0
        self._held = False

    def acquire(self) -> bool:
        if self._held:
            return self.renew()
        try:
            if self._conn is None:  # kept open while standing by: one connection per process, not per poll
                self._conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                self._backend_pid = int(self._conn.scalar(text("SELECT pg_backend_pid()")) or 0)
            taken = self._conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY})
        except DBAPIError:
            self._drop()
            raise
        if not taken:
            return False
        self._held = True
        with self.db.write() as session:
            self._record(session, None)
        return True

    def renew(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            self._conn.scalar(text("SELECT 1"))
            return True
        except DBAPIError:  # the connection is gone, and with it the lock
            logger.warning("scheduler lease: the lock connection to PostgreSQL was lost")
            self._drop()
            return False

    def release(self) -> None:
        if self._conn is not None and self._held:
            try:
                self._conn.scalar(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            except DBAPIError:
                pass  # closing the connection below releases it anyway
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except DBAPIError:
                pass
        self._conn = None
        self._backend_pid = 0
        self._held = False

    def fence(self, session: Session) -> bool:
        holder = session.scalar(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objid = :o "
                "AND objsubid = 1 AND granted AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())"
            ),
            {"c": _CLASSID, "o": _OBJID},
        )
        return self._held and holder == self._backend_pid


def make_lease(db: Database, ttl: float, wall: Callable[[], datetime] = system_now) -> Lease:
    return SqliteLease(db, ttl, wall) if db.is_sqlite else PostgresLease(db, wall)


def lease_holder(session: Session) -> SchedulerLeaseRow | None:
    """Who leads (or led) the scheduler, for the status page and command."""
    return session.scalar(select(SchedulerLeaseRow).where(SchedulerLeaseRow.name == LEASE_NAME))


class Elector:
    """A daemon thread that stands by until it takes the lease, then leads until it loses it.

    ``on_elected`` starts the jobs, ``on_deposed`` stops them. A standby polls
    every ``poll`` seconds; the leader renews every ``renew`` seconds.
    """

    def __init__(
        self,
        lease: Lease,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        poll: float,
        renew: float,
    ) -> None:
        self.lease = lease
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.poll = poll
        self.renew_every = renew
        self.leading = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler-elector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop standing by or leading; a leader gives the lease up for the next one."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(self.poll, self.renew_every) + 5)
        if self.leading:
            self._depose()
        try:
            self.lease.release()
        except Exception:  # best effort at shutdown; the lease expires anyway
            logger.warning("scheduler lease: could not release it at shutdown", exc_info=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.leading:
                    if self.lease.acquire():
                        self._lead()
                elif not self.lease.renew():
                    logger.warning("scheduler: lease lost; standing by")
                    self._depose()
            except Exception:  # a database hiccup must not kill the elector thread
                logger.exception("scheduler: leader election failed; retrying")
            self._stop.wait(self.renew_every if self.leading else self.poll)

    def _lead(self) -> None:
        try:
            self.on_elected()
        except Exception:  # jobs that cannot start must not hold the lease: a standby may do better
            logger.exception("scheduler: starting the jobs failed; giving the lease up")
            self.lease.release()
            return
        logger.info("scheduler: leading as %s", self.lease.holder)
        self.leading = True

    def _depose(self) -> None:
        self.leading = False
        try:
            self.on_deposed()
        except Exception:  # logged; the elector goes on standing by
            logger.exception("scheduler: stopping the jobs failed")
