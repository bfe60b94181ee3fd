"""The audit log: one event per command with who, when, where and what; ordinals for repeated visits; a
hash chain that exposes edited, deleted and inserted rows; rows never rewritten by later commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import files

from engine import Engine, IncidentRaised
from engine.audit.chain import GENESIS_HASH, _row_hash
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Event

WANG = make_actor("wang", "petition_staff", department="petition_office")
ZHAO = make_actor("zhao", "petition_staff", department="petition_office")
HEAD = make_actor("chen", "petition_head", department="petition_office")


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry())
    engine.deploy(files("chain.bpmn", "loop.bpmn", "script_fail.bpmn"), by="owner")
    return engine


def _events(eng: Engine, case_id: int | None = None) -> list[Event]:
    with eng.db.read() as session:
        query = sa.select(Event).order_by(Event.id)
        if case_id is not None:
            query = query.where(Event.case_id == case_id)
        return list(session.scalars(query))


def _snapshot(eng: Engine) -> dict[int, tuple]:
    return {e.id: (e.case_id, e.case_seq, e.at, e.actor, e.kind, e.deployment_id, e.process_id, e.bpmn_id,
                   e.ordinal, e.task_id, e.payload, e.prev_hash, e.hash) for e in _events(eng)}


def test_every_command_appends_exactly_one_event(eng, clock):
    (deployment_id,) = [d["id"] for d in eng.deployments() if d["process_id"] == "chain"]
    case_id = eng.start_case("chain", {"source": "letter"}, WANG)
    task_a = eng.find_task(case_id, "Task_a")
    commands = [
        ("claim", lambda: eng.claim(task_a, WANG), "wang", "Task_a", {"assignee": "wang"}),
        ("unclaim", lambda: eng.unclaim(task_a, WANG), "wang", "Task_a", {"previous": "wang"}),
        ("claim", lambda: eng.claim(task_a, ZHAO), "zhao", "Task_a", {"assignee": "zhao"}),
        ("reassign", lambda: eng.reassign(task_a, HEAD, WANG, "调整分工"), "chen", "Task_a",
         {"previous": "zhao", "assignee": "wang", "reason": "调整分工"}),
        ("complete", lambda: eng.complete(task_a, WANG, {"title": "补偿款", "count": "2"}), "wang", "Task_a",
         {"task": "登记", "data": {"title": "补偿款", "count": 2},
          "delta": {"changed": {"title": "补偿款", "count": 2}}, "ran": [["chain", "Task_a"]]}),
    ]
    (start,) = _events(eng, case_id)
    assert (start.kind, start.case_seq, start.actor, start.bpmn_id, start.deployment_id) == (
        "start", 1, "wang", None, deployment_id)
    assert json.loads(start.payload) == {"data": {"source": "letter"}, "delta": {"changed": {"source": "letter"}},
                                         "ran": [["chain", "StartEvent_1"]]}
    for number, (kind, command, actor, bpmn_id, payload) in enumerate(commands, start=2):
        clock.advance(minutes=10)
        before = len(_events(eng))
        command()
        events = _events(eng, case_id)
        assert len(_events(eng)) == before + 1
        event = events[-1]
        assert (event.kind, event.case_seq, event.actor) == (kind, number, actor)
        assert event.at == clock.now() and event.at.tzinfo is not None and event.at.utcoffset().total_seconds() == 0
        assert event.at.tzinfo == UTC
        assert (event.deployment_id, event.process_id, event.bpmn_id, event.ordinal) == (
            deployment_id, "chain", bpmn_id, 1)
        assert event.task_id == task_a
        assert json.loads(event.payload) == payload
    assert [e.case_seq for e in _events(eng, case_id)] == list(range(1, len(commands) + 2))
    history = eng.history(case_id)
    assert [h["kind"] for h in history] == ["start", "claim", "unclaim", "claim", "reassign", "complete"]
    assert history[-1]["at"] == clock.now().isoformat()
    assert eng.verify_audit().ok


def test_failures_retries_and_skips_are_events_too(eng):
    case_id = eng.start_case("script_fail", {}, WANG)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(eng.find_task(case_id, "Task_a"), WANG, {"n": "1"})
    with pytest.raises(IncidentRaised):
        eng.retry(raised.value.incident_id, WANG)
    eng.skip(raised.value.incident_id, WANG)
    events = _events(eng, case_id)
    assert [(e.kind, e.bpmn_id) for e in events] == [
        ("start", None), ("incident", "Script_calc"), ("incident", "Script_calc"), ("complete", "Task_a"),
        ("skip", "Script_calc")]
    assert [e.case_seq for e in events] == [1, 2, 3, 4, 5]
    assert eng.verify_audit().ok


def test_ordinal_counts_repeated_visits(eng):
    case_id = eng.start_case("loop", {}, WANG)
    for again in (True, True, False):
        eng.complete(eng.find_task(case_id, "Task_review"), WANG, {"again": again})
    eng.commands._live.clear()  # ordinals live in the stored state, not in the process
    completes = [e for e in _events(eng, case_id) if e.kind == "complete"]
    assert [(e.process_id, e.bpmn_id, e.ordinal) for e in completes] == [
        ("loop", "Task_review", 1), ("loop", "Task_review", 2), ("loop", "Task_review", 3)]
    assert len({e.task_id for e in completes}) == 3
    assert [json.loads(e.payload)["data"] for e in completes] == [{"again": True}, {"again": True}, {"again": False}]
    assert eng.case(case_id)["status"] == "completed"


def test_ordinal_survives_reload_between_visits(eng, database, clock):
    case_id = eng.start_case("loop", {}, WANG)
    eng.complete(eng.find_task(case_id, "Task_review"), WANG, {"again": True})
    fresh = Engine(database, clock, handlers=HandlerRegistry())
    (item,) = fresh.work_items(case_id)
    assert item["ordinal"] == 2
    fresh.claim(item["task_id"], WANG)
    assert _events(fresh, case_id)[-1].ordinal == 2


def test_the_chain_verifies(eng):
    _busy_case(eng)
    report = eng.verify_audit()
    assert report.ok and report.first_bad_event is None
    assert report.checked == len(_events(eng))
    events = _events(eng)
    assert events[0].prev_hash == GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert all(_row_hash(e) == e.hash for e in events)


def _busy_case(eng: Engine) -> int:
    case_id = eng.start_case("chain", {}, WANG)
    task_a = eng.find_task(case_id, "Task_a")
    eng.claim(task_a, WANG)
    eng.unclaim(task_a, WANG)
    eng.complete(task_a, WANG, {"title": "标题"})
    eng.complete(eng.find_task(case_id, "Task_b"), ZHAO)
    return case_id


def _execute(eng: Engine, statement: str, **params) -> None:
    with eng.db.write() as session:
        session.execute(sa.text(statement), params)


def test_edited_payload_is_named(eng):
    _busy_case(eng)
    target = _events(eng)[3]
    _execute(eng, "UPDATE events SET payload = :p WHERE id = :id", p='{"assignee":"mallory"}', id=target.id)
    report = eng.verify_audit()
    assert not report.ok and report.first_bad_event == target.id
    assert str(target.id) in report.message


@pytest.mark.parametrize(("column", "value"), [("actor", "mallory"), ("at", "2026-01-01 00:00:00"),
                                               ("kind", "complete"), ("bpmn_id", "Task_b")])
def test_any_edited_column_is_named(eng, column, value):
    _busy_case(eng)
    target = _events(eng)[4]
    _execute(eng, f"UPDATE events SET {column} = :v WHERE id = :id", v=value, id=target.id)
    report = eng.verify_audit()
    assert not report.ok and report.first_bad_event == target.id


def test_edit_with_recomputed_hash_is_caught_at_the_next_row(eng):
    _busy_case(eng)
    events = _events(eng)
    target = events[3]
    target.payload = '{"assignee":"mallory"}'
    forged_hash = _row_hash(target)
    _execute(eng, "UPDATE events SET payload = :p, hash = :h WHERE id = :id", p=target.payload, h=forged_hash,
             id=target.id)
    report = eng.verify_audit()
    assert not report.ok and report.first_bad_event == events[4].id


def test_deleted_middle_row_names_the_following_event(eng):
    _busy_case(eng)
    events = _events(eng)
    _execute(eng, "DELETE FROM events WHERE id = :id", id=events[3].id)
    report = eng.verify_audit()
    assert not report.ok and report.first_bad_event == events[4].id
    assert report.checked == 3


def test_deleted_last_row_is_detected(eng):
    _busy_case(eng)
    events = _events(eng)
    _execute(eng, "DELETE FROM events WHERE id = :id", id=events[-1].id)
    report = eng.verify_audit()
    assert not report.ok
    assert report.first_bad_event == events[-1].id
    assert report.checked == len(events) - 1


def test_inserted_forged_row_is_detected(eng, clock):
    _busy_case(eng)
    last = _events(eng)[-1]
    forged = Event(case_id=last.case_id, case_seq=last.case_seq + 1, at=clock.now(), actor="mallory",
                   kind="complete", deployment_id=last.deployment_id, process_id="chain", bpmn_id="Task_b",
                   ordinal=1, task_id=None, payload="{}", prev_hash=last.hash)
    forged.hash = _row_hash(forged)  # correctly chained: only the head row can tell
    with eng.db.write() as session:
        session.add(forged)
    report = eng.verify_audit()
    assert not report.ok
    assert report.checked == len(_events(eng))


def test_inserted_row_with_wrong_link_is_named(eng, clock):
    _busy_case(eng)
    last = _events(eng)[-1]
    with eng.db.write() as session:
        forged = Event(case_id=last.case_id, case_seq=99, at=clock.now(), actor="mallory", kind="claim",
                       payload="{}", prev_hash="f" * 64, hash="e" * 64)
        session.add(forged)
        session.flush()
        forged_id = forged.id
    report = eng.verify_audit()
    assert not report.ok and report.first_bad_event == forged_id


def test_rows_are_never_rewritten_by_later_commands(eng, clock):
    case_id = _busy_case(eng)
    other = eng.start_case("chain", {}, WANG)
    before = _snapshot(eng)
    clock.advance(days=1)
    task = eng.find_task(other, "Task_a")
    eng.claim(task, WANG)
    eng.reassign(task, WANG, ZHAO, "休假")
    eng.complete(task, ZHAO, {"title": "另一件"})
    with pytest.raises(Exception):  # noqa: B017 - a refused command must not touch the log either
        eng.complete(task, ZHAO, {"title": "再来一次"})
    eng.deploy(files("chain.bpmn"), by="owner")  # unchanged: no event
    after = _snapshot(eng)
    assert {event_id: after[event_id] for event_id in before} == before
    assert len(after) == len(before) + 3
    assert max(before) < min(set(after) - set(before))
    assert eng.case(case_id)["status"] == "completed"
    assert eng.verify_audit().ok


def test_event_times_are_aware_utc_on_read_back(eng, clock):
    clock.set(datetime.fromisoformat("2026-05-04T23:30:00+08:00"))
    case_id = eng.start_case("chain", {}, WANG)
    (event,) = _events(eng, case_id)
    assert event.at == datetime(2026, 5, 4, 15, 30, tzinfo=UTC)
    assert eng.history(case_id)[0]["at"] == "2026-05-04T15:30:00+00:00"
