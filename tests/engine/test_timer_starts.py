"""Timer start events: cases created on a schedule (issue 14), each occurrence exactly once, on SQLite and
PostgreSQL, with the fake clock (Monday 2026-03-02 09:00 Shanghai)."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from common import make_actor

from engine import Engine, Forbidden
from engine.bpmn.deployments import read_paths
from engine.store.models import Case

CORPUS = Path(__file__).parent / "runtime_corpus"
STAFF = make_actor("wang", "petition_staff")


def _deploy(engine: Engine, name: str, text: str | None = None) -> None:
    path = CORPUS / f"{name}.bpmn"
    engine.deploy({path.name: text} if text is not None else read_paths([path]), by="test")


def _ids(engine: Engine, process_id: str) -> list[int]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(Case.id).where(Case.process_id == process_id).order_by(Case.id)))


def _cases(engine: Engine, process_id: str) -> list[tuple[str, list[str]]]:
    """(status, due times of its timers) of every case of the process, oldest first."""
    return [(engine.case(i)["status"], [t["due_at"] for t in engine.case(i)["timers"]])
            for i in _ids(engine, process_id)]


def _pass(engine: Engine, clock, hours: float) -> int:
    clock.advance(timedelta(hours=hours))
    return engine.scheduler(owner="test").drain()


def test_a_time_date_start_creates_one_case_when_its_time_comes(engine, clock):
    _deploy(engine, "rt_timer_start_date")  # 2026-03-03T09:00 without offset: Shanghai time
    assert _cases(engine, "rt_timer_start_date") == [("scheduled", ["2026-03-03T01:00:00+00:00"])]
    assert _pass(engine, clock, 23) == 0
    assert _pass(engine, clock, 2) == 1
    [(status, timers)] = _cases(engine, "rt_timer_start_date")
    assert (status, timers) == ("running", [])
    [item] = engine.work_items(_ids(engine, "rt_timer_start_date")[0])
    assert item["bpmn_id"] == "prepare_report"
    engine.complete(item["task_id"], STAFF, {})
    assert _cases(engine, "rt_timer_start_date") == [("completed", [])]
    assert _pass(engine, clock, 48) == 0


def test_a_cycle_start_creates_a_case_per_occurrence_and_stops_after_the_last(engine, clock):
    _deploy(engine, "rt_timer_start_cycle")  # R3 from Monday 10:00, daily
    assert _cases(engine, "rt_timer_start_cycle") == [("scheduled", ["2026-03-02T02:00:00+00:00"])]
    assert [_pass(engine, clock, hours) for hours in (2, 24, 24, 24)] == [1, 1, 1, 0]
    assert _cases(engine, "rt_timer_start_cycle") == [("running", [])] * 3
    fired = [e["payload"]["due_at"] for i in _ids(engine, "rt_timer_start_cycle") for e in engine.case(i)["events"]
             if e["kind"] == "timer_fired"]
    assert fired == ["2026-03-02T02:00:00+00:00", "2026-03-03T02:00:00+00:00", "2026-03-04T02:00:00+00:00"]


def test_a_cycle_whose_first_occurrences_have_passed_waits_for_the_next(engine, clock):
    text = (CORPUS / "rt_timer_start_cycle.bpmn").read_text().replace("R3/2026-03-02T10:00", "R3/2026-03-01T10:00")
    _deploy(engine, "rt_timer_start_cycle", text)  # Sunday 10:00 has passed: two occurrences remain
    assert _cases(engine, "rt_timer_start_cycle") == [("scheduled", ["2026-03-02T02:00:00+00:00"])]
    assert [_pass(engine, clock, hours) for hours in (2, 24, 24)] == [1, 1, 0]


def test_a_cron_start_creates_a_case_every_working_day_at_nine(engine, clock):
    _deploy(engine, "rt_timer_start_cron")  # 0 0 9 ? * MON-FRI, deployed Monday 09:00
    clock.advance(timedelta(days=4, hours=1))  # Friday 10:00: Tuesday to Friday have passed
    fired = engine.scheduler(owner="test").drain()
    assert fired == 4
    assert _cases(engine, "rt_timer_start_cron") == [("running", [])] * 4 + [
        ("scheduled", ["2026-03-09T01:00:00+00:00"])]  # next Monday 09:00


def test_several_schedulers_start_each_occurrence_exactly_once(database, clock):
    engines = [Engine(database, clock) for _ in range(3)]  # three processes sharing the database
    _deploy(engines[0], "rt_timer_start_cycle")
    clock.advance(timedelta(days=3))
    barrier = threading.Barrier(len(engines))

    def drain(engine: Engine, owner: str) -> None:
        barrier.wait()
        engine.scheduler(owner=owner).drain()

    threads = [threading.Thread(target=drain, args=(e, f"scheduler-{n}")) for n, e in enumerate(engines)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _cases(engines[0], "rt_timer_start_cycle") == [("running", [])] * 3
    assert [len([e for e in engines[0].case(i)["events"] if e["kind"] == "timer_fired"])
            for i in _ids(engines[0], "rt_timer_start_cycle")] == [1, 1, 1]


def test_a_timer_started_process_is_not_started_by_hand(engine):
    _deploy(engine, "rt_timer_start_date")
    with pytest.raises(Forbidden, match="按时创建案件，不能手动发起"):
        engine.start_case("rt_timer_start_date", {}, STAFF)
    assert _cases(engine, "rt_timer_start_date") == [("scheduled", ["2026-03-03T01:00:00+00:00"])]


def test_deploying_the_same_content_again_schedules_nothing_more(engine):
    _deploy(engine, "rt_timer_start_date")
    _deploy(engine, "rt_timer_start_date")
    assert _cases(engine, "rt_timer_start_date") == [("scheduled", ["2026-03-03T01:00:00+00:00"])]


def test_a_new_version_replaces_the_schedule_of_the_old(engine, clock):
    _deploy(engine, "rt_timer_start_date")
    text = (CORPUS / "rt_timer_start_date.bpmn").read_text().replace("2026-03-03T09:00:00", "2026-03-04T09:00:00")
    _deploy(engine, "rt_timer_start_date", text)
    assert _cases(engine, "rt_timer_start_date") == [("superseded", []), ("scheduled", ["2026-03-04T01:00:00+00:00"])]
    assert _pass(engine, clock, 25) == 0
    assert _pass(engine, clock, 24) == 1
    assert [status for status, _ in _cases(engine, "rt_timer_start_date")] == ["superseded", "running"]


def test_a_timer_start_beside_another_start_event_is_refused_at_validate(engine):
    text = (CORPUS / "rt_timer_start_date.bpmn").read_text().replace(
        '    <bpmn:userTask id="prepare_report"',
        '    <bpmn:startEvent id="by_hand">\n      <bpmn:outgoing>f0</bpmn:outgoing>\n    </bpmn:startEvent>\n'
        '    <bpmn:sequenceFlow id="f0" sourceRef="by_hand" targetRef="prepare_report" />\n'
        '    <bpmn:userTask id="prepare_report"')
    problems = engine.validate({"two_starts.bpmn": text})
    assert [(p.element_id, p.message) for p in problems] == [
        ("start", "定时启动事件须是流程唯一的开始事件：按时创建的案件只从它开始")]
