"""Every kind of timer the diagrams use fires right after its due instant and not before, through the
scheduler, on SQLite and PostgreSQL. Each firing is one `timer_fired` audit event, and the timer row goes
(or, for a cycle, moves on) in the same transaction as the new case state."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine import audit
from engine.timing.calendar import WorkingCalendar

from .support import (
    HEAD,
    ONE_SECOND,
    STAFF,
    at,
    boundary_process,
    catch_process,
    definitions,
    deploy,
    events,
    fire_exactly_after,
    kinds,
    open_tasks,
    process,
    timer_row,
    timer_rows,
)

START = at("2026-03-02T09:00:00+08:00")  # the `clock` fixture: a Monday without holidays around it


def assert_fired_once(engine, case_id, bpmn_id, due):
    fired = events(engine, case_id, "timer_fired")
    assert len(fired) == 1
    assert fired[0]["bpmn_id"] == bpmn_id
    assert fired[0]["actor"] == "scheduler"
    assert at(fired[0]["payload"]["due_at"]) == due
    assert at(fired[0]["at"]) == due + ONE_SECOND


def test_interrupting_boundary_timer_cancels_the_task_and_escalates(engine, clock):
    deploy(engine, boundary_process("timer_interrupting", "<bpmn:timeDuration>PT2H</bpmn:timeDuration>", True))
    case_id = engine.start_case("timer_interrupting", {}, STAFF)
    row = timer_row(engine, case_id)
    due = START + timedelta(hours=2)
    assert (row.bpmn_id, row.kind, row.due_at, row.process_id) == ("Timer_overdue", "duration", due,
                                                                   "timer_interrupting")
    assert open_tasks(engine, case_id) == ["Task_handle"]

    fire_exactly_after(clock, engine.scheduler(), due)

    assert open_tasks(engine, case_id) == ["Task_followup"]  # the user task was cancelled
    [item] = engine.work_items(case_id)
    assert item["candidate_groups"] == ["petition_head"]
    assert timer_rows(engine, case_id) == []
    assert kinds(engine, case_id) == ["start", "timer_fired"]
    assert_fired_once(engine, case_id, "Timer_overdue", due)
    engine.complete(item["task_id"], HEAD)
    assert engine.case(case_id)["status"] == "completed"


def test_non_interrupting_boundary_timer_keeps_the_task_and_adds_a_reminder(engine, clock):
    deploy(engine, boundary_process("timer_reminder", "<bpmn:timeDuration>PT2H</bpmn:timeDuration>", False))
    case_id = engine.start_case("timer_reminder", {}, STAFF)
    handle_before = engine.find_task(case_id, "Task_handle")
    due = START + timedelta(hours=2)

    fire_exactly_after(clock, engine.scheduler(), due)

    assert open_tasks(engine, case_id) == ["Task_followup", "Task_handle"]
    assert engine.find_task(case_id, "Task_handle") == handle_before  # the same work item, still open
    assert timer_rows(engine, case_id) == []
    assert_fired_once(engine, case_id, "Timer_overdue", due)
    # Nothing else is waiting: later ticks fire nothing more.
    clock.advance(days=30)
    assert engine.scheduler().drain() == 0
    engine.complete(handle_before, STAFF)
    engine.complete(engine.find_task(case_id, "Task_followup"), HEAD)
    assert engine.case(case_id)["status"] == "completed"


def test_intermediate_duration_timer_with_an_unquoted_iso_literal(engine, clock):
    deploy(engine, catch_process("timer_duration", "<bpmn:timeDuration>PT2H</bpmn:timeDuration>"))
    case_id = engine.start_case("timer_duration", {}, STAFF)
    row = timer_row(engine, case_id)
    due = START + timedelta(hours=2)
    assert (row.kind, row.due_at) == ("duration", due)
    assert open_tasks(engine, case_id) == []

    fire_exactly_after(clock, engine.scheduler(), due)

    assert open_tasks(engine, case_id) == ["Task_after"]
    assert timer_rows(engine, case_id) == []
    assert_fired_once(engine, case_id, "Timer_wait", due)


def test_intermediate_date_timer_counts_working_days(engine, clock):
    deploy(engine, catch_process("timer_date", "<bpmn:timeDate>${workdays(3)}</bpmn:timeDate>"))
    case_id = engine.start_case("timer_date", {}, STAFF)
    row = timer_row(engine, case_id)
    # Monday 2 March 09:00 + 3 working days = end of Thursday 5 March = 00:00 Friday (Beijing time).
    due = at("2026-03-06T00:00:00+08:00")
    assert due == WorkingCalendar().add_workdays(START, 3)
    assert (row.kind, row.due_at) == ("date", due)

    fire_exactly_after(clock, engine.scheduler(), due)

    assert open_tasks(engine, case_id) == ["Task_after"]
    assert timer_rows(engine, case_id) == []
    assert_fired_once(engine, case_id, "Timer_wait", due)


def test_cycle_timer_fires_three_times_hourly_then_stops(engine, clock):
    deploy(engine, boundary_process("timer_cycle", "<bpmn:timeCycle>R3/PT1H</bpmn:timeCycle>", False))
    case_id = engine.start_case("timer_cycle", {}, STAFF)
    scheduler = engine.scheduler()
    row = timer_row(engine, case_id)
    assert (row.kind, row.due_at) == ("cycle", START + timedelta(hours=1))
    timer_id = row.id

    for cycle in range(1, 4):
        due = START + timedelta(hours=cycle)
        fire_exactly_after(clock, scheduler, due)
        assert len(events(engine, case_id, "timer_fired")) == cycle
        assert open_tasks(engine, case_id).count("Task_followup") == cycle  # one reminder per firing
        assert "Task_handle" in open_tasks(engine, case_id)
        rows = timer_rows(engine, case_id)
        if cycle < 3:  # the same row, moved on by one hour
            assert [(r.id, r.due_at) for r in rows] == [(timer_id, due + timedelta(hours=1))]
        else:  # all repetitions done: the row goes with the last firing
            assert rows == []
    fired = events(engine, case_id, "timer_fired")
    assert [at(event["payload"]["due_at"]) for event in fired] == [START + timedelta(hours=n) for n in (1, 2, 3)]

    # After the third repetition nothing is left to fire, however long we wait.
    clock.advance(hours=1, seconds=1)
    scheduler.drain()
    clock.advance(days=7)
    scheduler.drain()
    assert timer_rows(engine, case_id) == []
    assert len(events(engine, case_id, "timer_fired")) == 3
    assert open_tasks(engine, case_id).count("Task_followup") == 3


def test_timer_inside_a_call_activity_fires_and_the_parent_continues(engine, clock):
    child = catch_process("timer_child", "<bpmn:timeDuration>PT1H</bpmn:timeDuration>")
    parent = process("timer_parent", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Call_child" />
    <bpmn:callActivity id="Call_child" name="调用子流程" calledElement="timer_child" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Call_child" targetRef="Task_parent_after" />
    <bpmn:userTask id="Task_parent_after" name="主流程后续" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_parent_after" targetRef="EndEvent_parent" />
    <bpmn:endEvent id="EndEvent_parent" />""")
    engine.deploy({"parent.bpmn": definitions(parent), "child.bpmn": definitions(child)}, by="test")
    case_id = engine.start_case("timer_parent", {}, STAFF)
    row = timer_row(engine, case_id)
    due = START + timedelta(hours=1)
    assert (row.process_id, row.bpmn_id, row.due_at) == ("timer_child", "Timer_wait", due)

    fire_exactly_after(clock, engine.scheduler(), due)

    [fired] = events(engine, case_id, "timer_fired")
    assert (fired["process_id"], fired["bpmn_id"]) == ("timer_child", "Timer_wait")
    assert timer_rows(engine, case_id) == []
    assert open_tasks(engine, case_id) == ["Task_after"]  # the child's user task
    engine.complete(engine.find_task(case_id, "Task_after"), STAFF)
    assert open_tasks(engine, case_id) == ["Task_parent_after"]  # the parent went on after the call
    engine.complete(engine.find_task(case_id, "Task_parent_after"), STAFF)
    assert engine.case(case_id)["status"] == "completed"


def test_timer_row_event_and_state_are_one_transaction(engine, clock, monkeypatch):
    """If writing the audit event fails, the timer row, the case state and the work items all stay."""
    deploy(engine, catch_process("timer_atomic", "<bpmn:timeDuration>PT2H</bpmn:timeDuration>"))
    case_id = engine.start_case("timer_atomic", {}, STAFF)
    before = engine.case(case_id)
    due = START + timedelta(hours=2)
    original = audit.append

    def failing_append(session, *, kind, **kwargs):
        if kind == "timer_fired":
            raise RuntimeError("audit log unavailable")
        return original(session, kind=kind, **kwargs)

    monkeypatch.setattr(audit, "append", failing_append)
    clock.set(due + ONE_SECOND)
    scheduler = engine.scheduler()
    result = scheduler.tick()
    assert (result.claimed, result.fired, result.failed) == (1, 0, 1)

    after = engine.case(case_id)
    assert after["version"] == before["version"]
    assert after["work_items"] == [] and after["timers"] == before["timers"]
    assert kinds(engine, case_id) == ["start"]
    row = timer_row(engine, case_id)
    assert row.attempts == 1 and "audit log unavailable" in row.last_error

    monkeypatch.setattr(audit, "append", original)
    clock.advance(seconds=3)  # past the 2 s back-off
    assert scheduler.tick().fired == 1
    assert open_tasks(engine, case_id) == ["Task_after"]
    assert kinds(engine, case_id) == ["start", "timer_fired"]


@pytest.mark.parametrize("timer", ["<bpmn:timeDuration>PT2H</bpmn:timeDuration>",
                                   "<bpmn:timeDuration>${'PT2H'}</bpmn:timeDuration>",
                                   "<bpmn:timeDate>2026-03-02T11:00:00</bpmn:timeDate>",
                                   "<bpmn:timeDate>${hours(2)}</bpmn:timeDate>"])
def test_timer_notations_agree_on_the_due_instant(engine, clock, timer):
    """Unquoted ISO, an expression, a local date-time without offset (read as Beijing time), a helper."""
    deploy(engine, catch_process("timer_notation", timer))
    case_id = engine.start_case("timer_notation", {}, STAFF)
    due = START + timedelta(hours=2)
    assert timer_row(engine, case_id).due_at == due
    fire_exactly_after(clock, engine.scheduler(), due)
    assert open_tasks(engine, case_id) == ["Task_after"]


def test_a_short_cycle_is_not_held_back_by_the_lease_of_its_previous_firing(engine, clock):
    """Repetitions every 30 s, leases of 60 s: each repetition still fires right after it is due."""
    deploy(engine, boundary_process("timer_short_cycle", "<bpmn:timeCycle>R3/PT30S</bpmn:timeCycle>", False))
    case_id = engine.start_case("timer_short_cycle", {}, STAFF)
    scheduler = engine.scheduler(owner="A", lease_seconds=60)
    for repetition in range(1, 4):
        fire_exactly_after(clock, scheduler, START + timedelta(seconds=30 * repetition))
        rows = timer_rows(engine, case_id)
        assert all((row.lease_owner, row.lease_until, row.attempts) == (None, None, 0) for row in rows)
    assert len(events(engine, case_id, "timer_fired")) == 3
    assert timer_rows(engine, case_id) == []


def test_a_timer_whose_instant_has_passed_when_reached_does_not_wait(engine, clock):
    deploy(engine, catch_process("timer_past", "<bpmn:timeDate>2026-03-01T09:00:00+08:00</bpmn:timeDate>"))
    case_id = engine.start_case("timer_past", {}, STAFF)
    assert timer_rows(engine, case_id) == []
    assert open_tasks(engine, case_id) == ["Task_after"]
    assert kinds(engine, case_id) == ["start"]  # it never waited, so the scheduler had nothing to fire
