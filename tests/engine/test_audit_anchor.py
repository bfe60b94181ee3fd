"""Anchoring the audit chain outside the database: a keyed HMAC chain that a database writer cannot
recompute, per-case numbering without holes, and signed checkpoints that pin the history."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from common import make_actor
from diagrams import files

import cli.main
from engine import Engine
from engine.audit import CheckpointRefused, load_audit_key, public_key_hex, verify
from engine.audit.anchor import _signed_part, _signing_key
from engine.audit.chain import GENESIS_HASH, SCHEME_KEYED, SCHEME_PLAIN, _row_hash
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store import schema
from engine.store.db import Database
from engine.store.models import AuditHead, Event

WANG = make_actor("wang", "petition_staff", department="petition_office")
KEY = bytes(range(32))


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry(), audit_key=KEY)
    engine.deploy(files("chain.bpmn"), by="owner")
    return engine


def _busy_case(eng: Engine) -> int:
    case_id = eng.start_case("chain", {}, WANG)
    task_a = eng.find_task(case_id, "Task_a")
    eng.claim(task_a, WANG)
    eng.unclaim(task_a, WANG)
    eng.complete(task_a, WANG, {"title": "标题"})
    eng.complete(eng.find_task(case_id, "Task_b"), WANG)
    return case_id


def _events(eng: Engine) -> list[Event]:
    with eng.db.read() as session:
        return list(session.scalars(sa.select(Event).order_by(Event.id)))


def _execute(eng: Engine, statement: str, **params) -> None:
    with eng.db.write() as session:
        session.execute(sa.text(statement), params)


def _delete_and_rechain(eng: Engine, victim: Event, scheme: int, renumber: bool = False) -> None:
    """What a database writer without the key can do: delete a row, then recompute every link and hash
    after it with the plain sha256 algorithm (with `renumber`, close the hole in the case's numbering too
    and recompute the whole chain)."""
    with eng.db.write() as session:
        session.execute(sa.delete(Event).where(Event.id == victim.id))
        if renumber:
            session.execute(sa.update(Event).where(Event.case_id == victim.case_id, Event.case_seq > victim.case_seq)
                            .values(case_seq=Event.case_seq - 1))
        _rechain(session, 0 if renumber else victim.id + 1, scheme)


def _rechain(session, from_id: int, scheme: int) -> None:
    previous = GENESIS_HASH
    for event in session.scalars(sa.select(Event).order_by(Event.id)):
        if event.id >= from_id:
            event.prev_hash, event.scheme = previous, scheme
            event.hash = _row_hash(Event(**{**_columns(event), "scheme": SCHEME_PLAIN}))
        previous = event.hash
    session.flush()
    last = session.scalars(sa.select(Event).order_by(Event.id.desc()).limit(1)).first()
    session.execute(sa.update(AuditHead).values(last_event_id=last.id, last_hash=last.hash))


def _columns(event: Event) -> dict:
    return {column.name: getattr(event, column.name) for column in Event.__table__.columns}


# ---- the keyed chain ----------------------------------------------------------------------------------


def test_new_rows_are_keyed_and_verify_only_with_the_key(eng):
    _busy_case(eng)
    events = _events(eng)
    assert {e.scheme for e in events} == {SCHEME_KEYED}
    assert all(_row_hash(e, KEY) == e.hash for e in events)
    report = eng.verify_audit()
    assert report.ok and report.checked == len(events) and report.plain == 0
    with eng.db.read() as session:
        without_key = verify(session)
        other_key = verify(session, b"x" * 32)
    assert not without_key.ok and "审计密钥" in without_key.message
    assert not other_key.ok and other_key.first_bad_event == events[0].id


def test_plain_rows_written_before_keying_still_verify(database, clock):
    plain = Engine(database, clock, handlers=HandlerRegistry())
    plain.deploy(files("chain.bpmn"), by="owner")
    _busy_case(plain)
    legacy = len(_events(plain))
    keyed = Engine(database, clock, handlers=HandlerRegistry(), audit_key=KEY)
    _busy_case(keyed)
    events = _events(keyed)
    assert [e.scheme for e in events] == [SCHEME_PLAIN] * legacy + [SCHEME_KEYED] * (len(events) - legacy)
    report = keyed.verify_audit()
    assert report.ok and report.plain == legacy and str(legacy) in report.message


@pytest.mark.parametrize("scheme", [SCHEME_KEYED, SCHEME_PLAIN], ids=["label-kept", "relabelled-plain"])
def test_deleted_middle_row_rechained_without_the_key_is_detected(eng, scheme):
    _busy_case(eng)
    events = _events(eng)
    _delete_and_rechain(eng, events[3], scheme)
    report = eng.verify_audit()
    assert not report.ok and report.first_bad_event == events[4].id


def test_deleted_case_event_leaves_a_gap(database, clock):
    # a plain (pre-key) chain can be recomputed whole: the hole in the case's numbering still shows
    plain = Engine(database, clock, handlers=HandlerRegistry())
    plain.deploy(files("chain.bpmn"), by="owner")
    case_id = _busy_case(plain)
    events = _events(plain)
    victim = next(e for e in events if e.case_id == case_id and e.case_seq == 3)
    _delete_and_rechain(plain, victim, SCHEME_PLAIN)
    report = plain.verify_audit()
    assert not report.ok
    assert f"案件 {case_id}" in report.message and "序号不连续" in report.message


def test_duplicate_sequence_number_is_a_gap_too(database, clock):
    plain = Engine(database, clock, handlers=HandlerRegistry())
    plain.deploy(files("chain.bpmn"), by="owner")
    case_id = _busy_case(plain)
    with plain.db.write() as session:
        session.execute(sa.update(Event).where(Event.case_id == case_id, Event.case_seq == 3).values(case_seq=2))
        _rechain(session, 0, SCHEME_PLAIN)
    report = plain.verify_audit()
    assert not report.ok and f"案件 {case_id}" in report.message and "序号不连续" in report.message


# ---- checkpoints --------------------------------------------------------------------------------------


def test_checkpoint_taken_before_tampering_detects_it(eng):
    case_id = _busy_case(eng)
    checkpoint = json.dumps(eng.audit_checkpoint())
    assert eng.verify_audit(checkpoint).ok
    # a writer who knew the key... or the plain part of an old chain: re-chained whole, numbering closed up
    victim = next(e for e in _events(eng) if e.case_id == case_id and e.case_seq == 2)
    _delete_and_rechain(eng, victim, SCHEME_PLAIN, renumber=True)
    report = eng.verify_audit(checkpoint)
    assert not report.ok and "检查点" in report.message


def test_checkpoint_still_verifies_after_history_grows(eng):
    _busy_case(eng)
    checkpoint = eng.audit_checkpoint()
    assert checkpoint["count"] == len(_events(eng)) and checkpoint["event_id"] == _events(eng)[-1].id
    _busy_case(eng)
    assert eng.verify_audit(json.dumps(checkpoint)).ok


def test_deleting_the_checkpointed_head_is_detected(eng):
    _busy_case(eng)
    checkpoint = json.dumps(eng.audit_checkpoint())
    last = _events(eng)[-1]
    _execute(eng, "DELETE FROM events WHERE id = :id", id=last.id)
    _execute(eng, "UPDATE audit_head SET last_event_id = :id, last_hash = :h", id=_events(eng)[-1].id,
             h=_events(eng)[-1].hash)
    report = eng.verify_audit(checkpoint)
    assert not report.ok and str(last.id) in report.message


def test_an_edited_or_foreign_checkpoint_is_refused(eng):
    _busy_case(eng)
    checkpoint = eng.audit_checkpoint()
    edited = json.dumps({**checkpoint, "count": checkpoint["count"] - 1})
    with pytest.raises(CheckpointRefused, match="签名无效"):
        eng.verify_audit(edited)
    other = b"y" * 32  # someone else's key: a well-signed checkpoint, but not by this system
    foreign = {**checkpoint, "public_key": public_key_hex(other)}
    foreign["signature"] = _signing_key(other).sign(_signed_part(foreign)).hex()
    with pytest.raises(CheckpointRefused, match="不是用本系统的审计密钥"):
        eng.verify_audit(json.dumps(foreign))
    with pytest.raises(CheckpointRefused, match="格式不正确"):
        eng.verify_audit("not json")


def test_no_checkpoint_of_a_broken_chain(eng):
    _busy_case(eng)
    _execute(eng, "UPDATE events SET actor = 'mallory' WHERE id = :id", id=_events(eng)[2].id)
    with pytest.raises(CheckpointRefused, match="校验未通过"):
        eng.audit_checkpoint()


# ---- the key ------------------------------------------------------------------------------------------


def test_key_file_is_generated_once_with_owner_only_permissions(tmp_path, monkeypatch):
    monkeypatch.delenv("XINFANG_AUDIT_KEY", raising=False)
    key = load_audit_key(tmp_path / "instance")
    path = tmp_path / "instance" / "audit.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_audit_key(tmp_path / "instance") == key


def test_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("XINFANG_AUDIT_KEY", "ab" * 32)
    assert load_audit_key(tmp_path) == bytes.fromhex("ab" * 32)
    assert not (tmp_path / "audit.key").exists()
    monkeypatch.setenv("XINFANG_AUDIT_KEY", "short")
    with pytest.raises(ValueError, match="太短"):
        load_audit_key(tmp_path)


# ---- the migration and the command line ---------------------------------------------------------------


def test_rows_from_before_the_migration_verify_after_it(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    schema.upgrade(database, "0005")
    old = Event(id=1, case_id=None, case_seq=None, at=datetime(2026, 1, 1, tzinfo=UTC), actor="owner",
                kind="deploy", payload="{}", prev_hash=GENESIS_HASH)
    old.hash = _row_hash(old)  # scheme unset: the plain algorithm, as before 0009
    with database.write_engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO events (id, at, actor, kind, payload, prev_hash, hash) "
                                   "VALUES (1, :at, 'owner', 'deploy', '{}', :p, :h)"),
                           {"at": old.at.isoformat(" "), "p": GENESIS_HASH, "h": old.hash})
        connection.execute(sa.text("UPDATE audit_head SET last_event_id = 1, last_hash = :h"), {"h": old.hash})
    schema.upgrade(database)
    with database.read() as session:
        report = verify(session, KEY)
    database.dispose()
    assert report.ok and report.plain == 1


def test_cli_checkpoint_then_verify(eng, tmp_path, monkeypatch):
    monkeypatch.setenv("XINFANG_AUDIT_KEY", KEY.hex())
    _busy_case(eng)
    path = tmp_path / "checkpoint.json"
    runner = CliRunner()
    written = runner.invoke(cli.main.main, ["--database-url", eng.db.url, "audit", "checkpoint", "-o", str(path)])
    assert written.exit_code == 0, written.output
    assert json.loads(path.read_text(encoding="utf-8"))["count"] == len(_events(eng))
    checked = runner.invoke(cli.main.main, ["--database-url", eng.db.url, "audit", "verify", "--checkpoint", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "与检查点" in checked.output
    _execute(eng, "DELETE FROM events WHERE id = :id", id=_events(eng)[2].id)
    broken = runner.invoke(cli.main.main, ["--database-url", eng.db.url, "audit", "verify", "--checkpoint", str(path)])
    assert broken.exit_code == 1
