"""Backup and restore of the whole database, online and consistent.

SQLite: the sqlite3 backup API copies every page in one step under a read transaction, so the copy is one
committed state even while commands write (WAL lets them go on). PostgreSQL: `pg_dump` (custom format)
reads one snapshot; `pg_restore` loads it. The password goes to the tools through PGPASSWORD, never on
their command line, where other users of the machine could read it.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import sqlalchemy as sa

from engine.errors import EngineError
from engine.store.db import Database

_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_DUMP_MAGIC = b"PGDMP"
# A database holding any of these rows is not empty: restoring over it would lose what it holds.
_CONTENT_TABLES = ("events", "cases", "deployments", "users")


class BackupFailed(EngineError):
    pass


def backup(database: Database, target: Path) -> None:
    """Write a consistent copy of `database` to `target` (mode 0600; replaced only once the copy is complete)."""
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    # Owner-only from the first byte: a backup holds every case, so it is as confidential as the database.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if database.is_sqlite:
            _sqlite_backup(database, partial)
        else:
            _run(_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--file", str(partial),
                 database=database)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)


def _sqlite_backup(database: Database, target: Path) -> None:
    copy = sqlite3.connect(target)
    try:
        with database.engine.connect() as connection:
            connection.connection.driver_connection.backup(copy)
    finally:
        copy.close()


def restore(database: Database, source: Path, force: bool = False) -> None:
    """Load a backup into `database`, which must be empty unless `force` (then its content is replaced)."""
    with source.open("rb") as file:
        head = file.read(len(_SQLITE_MAGIC))
    kind = "sqlite" if head == _SQLITE_MAGIC else "postgresql" if head.startswith(_PG_DUMP_MAGIC) else None
    if kind is None:
        raise BackupFailed(f"{source} 不是本系统的备份文件")
    if (kind == "sqlite") != database.is_sqlite:
        made, target = ("SQLite", "PostgreSQL") if kind == "sqlite" else ("PostgreSQL", "SQLite")
        raise BackupFailed(f"{source} 是 {made} 备份，不能恢复到 {target} 数据库")
    if not force and not is_empty(database):
        raise BackupFailed("目标数据库不是空的；确认要用备份覆盖其中的数据时请加 --force")
    if database.is_sqlite:
        original = sqlite3.connect(source)
        try:
            with database.write_engine.connect() as connection:
                original.backup(connection.connection.driver_connection)
        finally:
            original.close()
    else:
        # --clean --if-exists: the dump's objects replace any of the same name (a migrated but empty database,
        # or the forced case); one transaction, so a failed restore leaves the database as it was.
        _run(_tool("pg_restore"), "--no-owner", "--no-privileges", "--clean", "--if-exists", "--single-transaction",
             "--exit-on-error", str(source), database=database)
    database.dispose()  # pooled connections may still hold the old schema's pages or catalogue


def is_empty(database: Database) -> bool:
    """No cases, events, deployments or users (a migrated schema with nothing in it counts as empty)."""
    present = set(sa.inspect(database.engine).get_table_names())
    with database.engine.connect() as connection:
        return not any(connection.execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first()
                       for table in _CONTENT_TABLES if table in present)


def _tool(name: str) -> str:
    """The newest installed PostgreSQL client tool: pg_dump must not be older than the server."""
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda path: [int(part) if part.isdigit() else 0 for part in Path(path).parts])
    found = candidates[-1] if candidates else shutil.which(name)
    if found is None:
        raise BackupFailed(f"找不到 PostgreSQL 工具 {name}，请安装 postgresql-client")
    return found


def _run(program: str, *arguments: str, database: Database) -> None:
    url = sa.engine.make_url(database.url)
    environment = {**os.environ}
    if url.password is not None:
        environment["PGPASSWORD"] = str(url.password)
    # libpq reads the same URI, minus the SQLAlchemy driver name and the password.
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run([program, *arguments, "--dbname", uri], env=environment, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise BackupFailed(f"{Path(program).name} 失败：{done.stderr.strip()}")
