"""Backup and restore: an online, consistent copy (SQLite backup API, pg_dump), restored only into an empty
database unless forced, whose audit chain verifies."""

from __future__ import annotations

import os
import stat
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from common import POSTGRES_URL, make_actor
from diagrams import files

import cli.main
from engine import Engine
from engine.api import BackupFailed, backup, restore
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store import schema
from engine.store.backup import _tool
from engine.store.db import Database
from engine.store.models import Case, Event

WANG = make_actor("wang", "petition_staff", department="petition_office")
KEY = bytes(range(32))


def _require_pg_tools() -> None:
    try:
        _tool("pg_dump"), _tool("pg_restore")
    except BackupFailed:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip("pg_dump / pg_restore not installed")


@pytest.fixture
def source(database, clock) -> Engine:
    if not database.is_sqlite:
        _require_pg_tools()
    engine = Engine(database, clock, handlers=HandlerRegistry(), audit_key=KEY)
    engine.deploy(files("chain.bpmn"), by="owner")
    case_id = engine.start_case("chain", {"source": "letter"}, WANG)
    engine.complete(engine.find_task(case_id, "Task_a"), WANG, {"title": "补偿款"})
    return engine


@pytest.fixture
def target(database, tmp_path) -> Iterator[Database]:
    """A new, empty database of the same kind (no schema at all)."""
    if database.is_sqlite:
        restored = Database(f"sqlite:///{tmp_path / 'restored.db'}")
        yield restored
        restored.dispose()
        return
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"xinfang_restore_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    restored = Database(sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False))
    yield restored
    restored.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _events(database: Database) -> list[tuple]:
    with database.read() as session:
        return [(e.id, e.case_id, e.case_seq, e.kind, e.hash, e.scheme)
                for e in session.scalars(sa.select(Event).order_by(Event.id))]


def _cases(database: Database) -> list[tuple]:
    with database.read() as session:
        return [(c.id, c.status, c.version, c.data) for c in session.scalars(sa.select(Case).order_by(Case.id))]


def test_a_restored_copy_holds_the_same_history_and_verifies(source, target, clock, tmp_path):
    path = tmp_path / "xinfang.backup"
    backup(source.db, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds every case
    assert not list(tmp_path.glob("*.partial"))
    restore(target, path)
    schema.upgrade(target)
    restored = Engine(target, clock, handlers=HandlerRegistry(), audit_key=KEY)
    assert _events(target) == _events(source.db) and len(_events(target)) == 3
    assert _cases(target) == _cases(source.db)
    report = restored.verify_audit()
    assert report.ok and report.checked == 3
    # the copy carries on: new events chain on to the restored head
    case_id = restored.start_case("chain", {}, WANG)
    restored.complete(restored.find_task(case_id, "Task_a"), WANG, {"title": "另一件"})
    assert restored.verify_audit().ok


def test_the_backup_is_one_committed_state_while_a_command_writes(source, target, clock, tmp_path):
    path = tmp_path / "xinfang.backup"
    with source.db.write() as session:
        session.execute(sa.update(Case).values(status="half-written"))
        backup(source.db, path)  # another connection, while this transaction is open
        session.rollback()
    restore(target, path)
    assert {status for _, status, _, _ in _cases(target)} == {"running"}


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(source, target, clock, tmp_path):
    path = tmp_path / "xinfang.backup"
    backup(source.db, path)
    restore(target, path)
    restored = Engine(target, clock, handlers=HandlerRegistry(), audit_key=KEY)
    restored.start_case("chain", {}, WANG)
    with pytest.raises(BackupFailed, match="不是空的"):
        restore(target, path)
    assert len(_cases(target)) == 2
    restore(target, path, force=True)
    assert _cases(target) == _cases(source.db)
    assert Engine(target, clock, handlers=HandlerRegistry(), audit_key=KEY).verify_audit().ok


def test_a_migrated_but_empty_database_counts_as_empty(source, target, tmp_path):
    schema.upgrade(target)
    path = tmp_path / "xinfang.backup"
    backup(source.db, path)
    restore(target, path)
    assert _events(target) == _events(source.db)


def test_restore_refuses_what_is_not_a_backup_of_its_kind(source, target, tmp_path):
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a backup at all")
    with pytest.raises(BackupFailed, match="不是本系统的备份文件"):
        restore(target, junk)
    other_kind = tmp_path / "other.backup"
    other_kind.write_bytes(b"PGDMP" if target.is_sqlite else b"SQLite format 3\x00")
    with pytest.raises(BackupFailed, match="不能恢复到"):
        restore(target, other_kind)


def test_cli_backup_and_restore(source, target, tmp_path, monkeypatch):
    monkeypatch.setenv("XINFANG_AUDIT_KEY", KEY.hex())
    path = tmp_path / "cli.backup"
    runner = CliRunner()
    made = runner.invoke(cli.main.main, ["--database-url", source.db.url, "backup", str(path)])
    assert made.exit_code == 0, made.output
    loaded = runner.invoke(cli.main.main, ["--database-url", target.url, "restore", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "审计链完整，共 3 条事件" in loaded.output
    again = runner.invoke(cli.main.main, ["--database-url", target.url, "restore", str(path)])
    assert again.exit_code == 1 and "--force" in again.output
