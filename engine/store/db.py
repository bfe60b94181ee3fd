"""Database access: engines, sessions and the two kinds of transaction the engine uses."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE_PATH = Path("instance") / "xinfang.db"


def default_url() -> str:
    return os.environ.get("XINFANG_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


def instance_folder(database_url: str) -> Path:
    """Where an installation keeps its key files: beside its SQLite database (the embedded set-up keeps both
    in `instance/`), else `instance/` of the working directory."""
    if database_url.startswith("sqlite") and "///" in database_url:
        database = database_url.split("///", 1)[1]
        if database and database != ":memory:":
            return Path(database).parent
    return DEFAULT_SQLITE_PATH.parent


def normalise_url(url: str) -> str:
    """Accept the plain `postgresql://` form operators write; we talk to PostgreSQL through psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass
class _Batch:
    """The transaction `Database.batch` shares between the writes of one thread."""

    session: Session
    after_commit: list[Callable[[], None]] = field(default_factory=list)


class _Snapshot:
    """The session `Database.snapshot` shares between the reads of one thread, opened at the first. A
    write or a failed read marks it stale; it is closed once no read is using it, and the next read opens
    a fresh one."""

    def __init__(self, sessions: sessionmaker) -> None:
        self.sessions, self.session = sessions, None
        self.readers, self.stale = 0, False

    def enter(self) -> Session:
        if self.session is None:
            self.session = self.sessions()
            self.session.begin()
        self.readers += 1
        return self.session

    def leave(self) -> None:
        self.readers -= 1
        if self.stale and not self.readers:
            self.close()

    def invalidate(self) -> None:
        self.stale = True
        if not self.readers:
            self.close()

    def close(self) -> None:
        if self.session is not None:
            self.session.close()  # rolls back: it only ever read
        self.session, self.stale = None, False


class Database:
    """Owns the SQLAlchemy engines. On SQLite, writes begin IMMEDIATE so concurrent commands queue
    instead of failing half-way; on PostgreSQL, row locks and the version column do that job."""

    def __init__(self, url: str | None = None) -> None:
        self.url = normalise_url(url or default_url())
        self.is_sqlite = self.url.startswith("sqlite")
        if self.is_sqlite:
            self._prepare_sqlite_file()
            self.engine = self._sqlite_engine(immediate=False)
            self.write_engine = self._sqlite_engine(immediate=True)
        else:
            self.engine = sa.create_engine(self.url, pool_pre_ping=True, pool_size=10, max_overflow=20)
            self.write_engine = self.engine
        self._read_sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._local = threading.local()  # the batch and the snapshot open on this thread, if any
        self._audit_key: bytes | None = None

    @property
    def audit_key(self) -> bytes | None:
        """The key of the audit chain's HMAC. Kept in memory only — the point is that whoever can write the
        database cannot re-chain it — and handed to every session as `session.info["audit_key"]`."""
        return self._audit_key

    @audit_key.setter
    def audit_key(self, key: bytes | None) -> None:
        self._audit_key = key
        for sessions in (self._read_sessions, self._write_sessions):
            sessions.configure(info={"audit_key": key})

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _prepare_sqlite_file(self) -> None:
        path = sa.engine.make_url(self.url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)

    def _sqlite_engine(self, immediate: bool) -> sa.Engine:
        engine = sa.create_engine(self.url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def on_connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def on_begin(connection):
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One command = one transaction: commit on success, roll back everything on any error.
        Inside `batch()` the command is a SAVEPOINT of the batch's transaction instead."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is not None:
            with batch.session.begin_nested():
                yield batch.session
            return
        with self._write_sessions() as session, session.begin():
            yield session
        self._end_snapshot_view()  # the reads that follow see what was just written

    @contextmanager
    def batch(self) -> Iterator[None]:
        """On SQLite, run the `write()`s of this thread in one transaction, each in its own SAVEPOINT: a
        failing command rolls back only itself, and the batch pays for one BEGIN IMMEDIATE and one commit.
        SQLite serialises writers anyway, so this costs no concurrency there. On PostgreSQL commands stay
        separate transactions: they commit in parallel, and a batch would hold the audit chain's head
        row locked from its first event to its commit."""
        if not self.is_sqlite or getattr(self._local, "batch", None) is not None:
            yield
            return
        with self._write_sessions() as session:
            batch = self._local.batch = _Batch(session)
            try:
                with session.begin():
                    yield
            finally:
                self._local.batch = None
        for callback in batch.after_commit:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once what was written so far on this thread is committed: at once, or when the
        open batch commits (never, if it rolls back)."""
        batch: _Batch | None = getattr(self._local, "batch", None)
        if batch is None:
            callback()
        else:
            batch.after_commit.append(callback)

    @contextmanager
    def read(self) -> Iterator[Session]:
        snapshot: _Snapshot | None = getattr(self._local, "snapshot", None)
        if snapshot is None:
            with self._read_sessions() as session, session.begin():
                yield session
            return
        session = snapshot.enter()
        try:
            yield session
        except BaseException:
            snapshot.invalidate()  # a failed statement may have spoilt the transaction
            raise
        finally:
            snapshot.leave()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """The `read()`s of this thread inside share one session and transaction: a page pays for one
        connection checkout and sees one consistent state. A `write()` ends the shared view, so the reads
        after it see what it wrote."""
        if getattr(self._local, "snapshot", None) is not None:
            yield
            return
        snapshot = self._local.snapshot = _Snapshot(self._read_sessions)
        try:
            yield
        finally:
            self._local.snapshot = None
            snapshot.close()

    def _end_snapshot_view(self) -> None:
        snapshot: _Snapshot | None = getattr(self._local, "snapshot", None)
        if snapshot is not None:
            snapshot.invalidate()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
