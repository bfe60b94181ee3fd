"""The scheduler's mechanics on SQLite and PostgreSQL: leases, take-over of a dead scheduler's lease, back-off
after a failure, parking a timer under its incident until retry/skip, and several schedulers at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from engine import Conflict, Engine, Forbidden, IncidentRaised
from engine.runtime.scheduler import PARKED_UNTIL

from .support import (
    HEAD,
    ONE_SECOND,
    STAFF,
    at,
    boundary_process,
    deploy,
    events,
    incidents,
    kinds,
    lease,
    open_tasks,
    process,
    timer_row,
    timer_rows,
)

START = at("2026-03-02T09:00:00+08:00")
DUE = START + timedelta(hours=1)


def waiting_process(process_id: str = "timer_wait", delay: str = "PT1H", script: str | None = None) -> str:
    """Start, wait `delay`, optionally a script, then a user task."""
    after = "Script_after" if script else "Task_after"
    script_xml = f"""
    <bpmn:scriptTask id="Script_after" name="计算" scriptFormat="python">
      <bpmn:script>{script}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="Flow_script" sourceRef="Script_after" targetRef="Task_after" />""" if script else ""
    return process(process_id, f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Timer_wait" />
    <bpmn:intermediateCatchEvent id="Timer_wait" name="等待">
      <bpmn:timerEventDefinition><bpmn:timeDuration>{delay}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer_wait" targetRef="{after}" />{script_xml}
    <bpmn:userTask id="Task_after" name="后续办理" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_after" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />""")


@pytest.fixture
def waiting_case(engine) -> int:
    deploy(engine, waiting_process())
    return engine.start_case("timer_wait", {}, STAFF)


def test_claim_leases_due_rows_for_its_owner_only(engine, clock):
    deploy(engine, waiting_process(), waiting_process("timer_later", "PT3H"))
    due_case = engine.start_case("timer_wait", {}, STAFF)
    later_case = engine.start_case("timer_later", {}, STAFF)
    first = engine.scheduler(owner="A", lease_seconds=60)
    second = engine.scheduler(owner="B", lease_seconds=60)
    assert lease(first, DUE) == []  # due_at < now, strictly

    clock.set(DUE + ONE_SECOND)
    now = clock.now()
    [timer_id] = lease(first, now)
    row = timer_row(engine, due_case)
    assert (row.id, row.lease_owner, row.lease_until) == (timer_id, "A", now + timedelta(seconds=60))
    assert timer_row(engine, later_case).lease_owner is None  # not due: not leased

    assert lease(second, now) == []  # the lease is live
    assert lease(second, now + timedelta(seconds=60)) == []  # still live at its last instant
    assert lease(first, now + timedelta(seconds=30)) == []  # not re-leased by its owner either
    assert timer_row(engine, due_case).lease_owner == "A"
    assert events(engine, due_case, "timer_fired") == []  # claiming is not firing


def test_a_dead_schedulers_lease_expires_and_another_fires_the_timer_once(engine, clock, waiting_case):
    clock.set(DUE + ONE_SECOND)
    dead = engine.scheduler(owner="dead", lease_seconds=60)
    [timer_id] = lease(dead, clock.now())  # ... and the process dies before firing
    survivor = engine.scheduler(owner="survivor", lease_seconds=60)

    clock.advance(seconds=59)
    assert survivor.tick().claimed == 0
    clock.advance(seconds=2)  # past the dead lease
    result = survivor.tick()
    assert (result.claimed, result.fired, result.failed) == (1, 1, 0)
    assert timer_rows(engine, waiting_case) == []
    assert open_tasks(engine, waiting_case) == ["Task_after"]

    # The "dead" process wakes up and tries to fire with its stale lease: refused, nothing changes.
    version = engine.case(waiting_case)["version"]
    with pytest.raises(Conflict):
        engine.commands.fire_timer(timer_id, "dead")
    assert dead.tick().claimed == 0
    assert engine.case(waiting_case)["version"] == version
    assert len(events(engine, waiting_case, "timer_fired")) == 1


def test_a_stale_lease_holder_cannot_fire_after_a_take_over(engine, clock, waiting_case):
    """Take-over happens while the first holder is still alive: only the current lease holder may fire."""
    clock.set(DUE + ONE_SECOND)
    slow = engine.scheduler(owner="slow", lease_seconds=60)
    [timer_id] = lease(slow, clock.now())
    clock.advance(seconds=61)
    fast = engine.scheduler(owner="fast", lease_seconds=60)
    assert lease(fast, clock.now()) == [timer_id]
    with pytest.raises(Conflict):
        engine.commands.fire_timer(timer_id, "slow")
    assert timer_row(engine, waiting_case).lease_owner == "fast"
    engine.commands.fire_timer(timer_id, "fast")
    assert len(events(engine, waiting_case, "timer_fired")) == 1


def test_a_failing_fire_backs_off_and_is_retried_later(engine, clock, waiting_case, monkeypatch):
    original = engine.commands.fire_timer
    failures = {"left": 2}

    def flaky(*args, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(engine.commands, "fire_timer", flaky)
    scheduler = engine.scheduler(owner="A")
    clock.set(DUE + ONE_SECOND)

    result = scheduler.tick()
    assert (result.claimed, result.fired, result.failed) == (1, 0, 1)
    row = timer_row(engine, waiting_case)
    assert (row.attempts, row.lease_owner, row.lease_until) == (1, None, clock.now() + timedelta(seconds=2))
    assert "RuntimeError" in row.last_error and "database went away" in row.last_error
    assert kinds(engine, waiting_case) == ["start"]

    assert scheduler.tick().claimed == 0  # backing off
    clock.advance(seconds=2)
    assert scheduler.tick().claimed == 0  # lease_until == now: still backing off
    clock.advance(ONE_SECOND)
    assert scheduler.tick().failed == 1  # second failure: 4 s back-off
    row = timer_row(engine, waiting_case)
    assert (row.attempts, row.lease_until) == (2, clock.now() + timedelta(seconds=4))

    clock.advance(seconds=4)
    assert scheduler.tick().claimed == 0
    clock.advance(ONE_SECOND)
    result = scheduler.tick()
    assert (result.claimed, result.fired, result.failed) == (1, 1, 0)
    assert timer_rows(engine, waiting_case) == []
    assert len(events(engine, waiting_case, "timer_fired")) == 1
    assert open_tasks(engine, waiting_case) == ["Task_after"]


def test_a_script_error_after_the_timer_parks_it_under_an_incident_until_skip(engine, clock):
    deploy(engine, waiting_process("timer_script", script="x = 1/0"))
    case_id = engine.start_case("timer_script", {"n": 1}, STAFF)
    before = engine.case(case_id)
    scheduler = engine.scheduler(owner="A")
    clock.set(DUE + ONE_SECOND)

    result = scheduler.tick()  # IncidentRaised is handled inside the tick
    assert (result.claimed, result.fired, result.failed) == (1, 0, 1)
    [incident] = incidents(engine)
    assert (incident.case_id, incident.bpmn_id, incident.error_type) == (case_id, "Script_after", "ZeroDivisionError")
    assert incident.command["command"] == "fire_timer" and incident.resolved_at is None
    row = timer_row(engine, case_id)
    assert (row.lease_owner, row.lease_until) == (f"incident:{incident.id}", PARKED_UNTIL)

    after = engine.case(case_id)  # the case is exactly as before the timer
    assert (after["version"], after["timers"], after["data"]) == (before["version"], before["timers"], before["data"])
    assert kinds(engine, case_id) == ["start", "incident"]
    assert open_tasks(engine, case_id) == []

    clock.advance(days=30)
    assert scheduler.tick().claimed == 0  # parked: never claimed again
    assert engine.scheduler(owner="B").tick().claimed == 0

    with pytest.raises(IncidentRaised) as raised:  # retry runs the same script again
        engine.retry(incident.id, HEAD)
    assert raised.value.incident_id == incident.id
    [incident] = incidents(engine)
    assert incident.attempts == 2 and incident.resolved_at is None
    assert timer_row(engine, case_id).lease_owner == f"incident:{incident.id}"

    with pytest.raises(Forbidden):  # the scheduler's incident: for the office head (or an admin) to resolve
        engine.skip(incident.id, STAFF)
    assert timer_row(engine, case_id).lease_owner == f"incident:{incident.id}"

    engine.skip(incident.id, HEAD)

    assert timer_rows(engine, case_id) == []
    assert open_tasks(engine, case_id) == ["Task_after"]
    assert "x" not in engine.case(case_id)["data"]
    assert kinds(engine, case_id)[-2:] == ["timer_fired", "skip"]
    # The timer command is re-run as it was given (by the scheduler); the person who skipped is recorded.
    assert [event["actor"] for event in engine.case(case_id)["events"][-2:]] == ["scheduler", HEAD.name]
    [incident] = incidents(engine)
    assert (incident.resolution, incident.resolved_by) == ("skip", HEAD.name)
    assert scheduler.drain() == 0
    assert engine.verify_audit().ok


def test_an_incident_does_not_hold_up_the_other_timers_of_the_tick(engine, clock):
    deploy(engine, waiting_process(), waiting_process("timer_script", script="x = 1/0"))
    good = [engine.start_case("timer_wait", {}, STAFF) for _ in range(2)]
    bad = engine.start_case("timer_script", {}, STAFF)
    clock.set(DUE + ONE_SECOND)
    result = engine.scheduler().tick()
    assert (result.claimed, result.fired, result.failed) == (3, 2, 1)
    assert all(open_tasks(engine, case_id) == ["Task_after"] for case_id in good)
    assert timer_row(engine, bad).lease_owner.startswith("incident:")


def test_a_failing_firing_rolls_back_only_itself_when_firings_share_a_transaction(engine, clock):
    """On SQLite the firings of a tick share one transaction, one savepoint each (Database.batch)."""
    deploy(engine, waiting_process(), waiting_process("timer_script", script="x = 1/0"))
    first = engine.start_case("timer_wait", {}, STAFF)
    bad = engine.start_case("timer_script", {}, STAFF)
    last = engine.start_case("timer_wait", {}, STAFF)
    before = engine.case(bad)
    clock.set(DUE + ONE_SECOND)

    result = engine.scheduler(per_transaction=10).tick()

    assert (result.claimed, result.fired, result.failed) == (3, 2, 1)
    for case_id in (first, last):
        assert kinds(engine, case_id) == ["start", "timer_fired"]
        assert open_tasks(engine, case_id) == ["Task_after"] and timer_rows(engine, case_id) == []
    [incident] = incidents(engine)
    assert (incident.case_id, incident.bpmn_id) == (bad, "Script_after")
    assert kinds(engine, bad) == ["start", "incident"]
    after = engine.case(bad)
    assert (after["version"], after["timers"], after["data"]) == (before["version"], before["timers"], before["data"])
    assert timer_row(engine, bad).lease_owner == f"incident:{incident.id}"
    assert engine.verify_audit().ok


def test_a_workflow_kept_in_memory_is_not_used_once_another_process_moved_the_case_on(database, clock):
    """Each engine keeps the workflows of its last commands; a case changed elsewhere is loaded afresh."""
    here, elsewhere = Engine(database, clock), Engine(database, clock)
    deploy(here, waiting_process())
    case_id = here.start_case("timer_wait", {}, STAFF)  # `here` keeps the workflow waiting on the timer
    clock.set(DUE + ONE_SECOND)
    assert elsewhere.scheduler().drain() == 1

    here.complete(here.find_task(case_id, "Task_after"), STAFF)

    assert kinds(here, case_id) == ["start", "timer_fired", "complete"]
    assert here.case(case_id)["status"] == "completed"


def test_concurrent_schedulers_in_threads_fire_each_timer_once(database, clock):
    """Four engines (own caches) in four threads drain 40 due timers of one database together."""
    engines = [Engine(database, clock) for _ in range(4)]
    deploy(engines[0], waiting_process())
    case_ids = [engines[0].start_case("timer_wait", {}, STAFF) for _ in range(40)]
    clock.set(DUE + ONE_SECOND)
    fired = [0] * len(engines)
    errors = []
    barrier = threading.Barrier(len(engines))

    def run(index: int) -> None:
        try:
            scheduler = engines[index].scheduler(owner=f"thread-{index}", batch=5)
            barrier.wait()
            fired[index] = scheduler.drain()
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(engines))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert sum(fired) == 40
    counts = Counter(event["kind"] for case_id in case_ids for event in engines[0].case(case_id)["events"])
    assert counts == {"start": 40, "timer_fired": 40}
    assert timer_rows(engines[0]) == [] and incidents(engines[0]) == []


def test_the_apscheduler_ticker_fires_due_timers(engine, clock, waiting_case):
    """start() runs tick at once and then every interval; we wait for the tick, not for a timer."""
    clock.set(DUE + ONE_SECOND)
    scheduler = engine.scheduler(owner="ticker")
    ticked = threading.Event()
    tick = scheduler.tick

    def observed_tick():
        result = tick()
        if result.fired:
            ticked.set()
        return result

    scheduler.tick = observed_tick
    ticker = scheduler.start(interval=0.05)
    try:
        assert ticked.wait(timeout=20)
    finally:
        ticker.shutdown(wait=True)
    assert open_tasks(engine, waiting_case) == ["Task_after"]
    assert len(events(engine, waiting_case, "timer_fired")) == 1


def test_completing_the_task_first_removes_its_boundary_timer(engine, clock):
    deploy(engine, boundary_process("timer_boundary", "<bpmn:timeDuration>PT1H</bpmn:timeDuration>", True))
    case_id = engine.start_case("timer_boundary", {}, STAFF)
    engine.complete(engine.find_task(case_id, "Task_handle"), STAFF)
    assert timer_rows(engine, case_id) == []  # removed with the completion, in its transaction
    clock.set(DUE + timedelta(days=1))
    assert engine.scheduler().drain() == 0
    assert kinds(engine, case_id) == ["start", "complete"]
    assert engine.case(case_id)["status"] == "completed"


def test_the_user_completes_the_task_while_a_scheduler_holds_the_lease_of_its_timer(engine, clock):
    """Completion and the interrupting timer race: the completion came first, so the timer never fires."""
    deploy(engine, boundary_process("timer_boundary", "<bpmn:timeDuration>PT1H</bpmn:timeDuration>", True))
    case_id = engine.start_case("timer_boundary", {}, STAFF)
    clock.set(DUE + ONE_SECOND)
    scheduler = engine.scheduler(owner="A")
    [timer_id] = lease(scheduler, clock.now())
    engine.complete(engine.find_task(case_id, "Task_handle"), STAFF)
    with pytest.raises(Conflict):
        engine.commands.fire_timer(timer_id, "A")
    assert kinds(engine, case_id) == ["start", "complete"]
    assert engine.case(case_id)["status"] == "completed"
    assert open_tasks(engine, case_id) == []


def test_the_timer_fires_first_and_the_late_completion_is_refused(engine, clock):
    deploy(engine, boundary_process("timer_boundary", "<bpmn:timeDuration>PT1H</bpmn:timeDuration>", True))
    case_id = engine.start_case("timer_boundary", {}, STAFF)
    task_id = engine.find_task(case_id, "Task_handle")
    clock.set(DUE + ONE_SECOND)
    assert engine.scheduler().tick().fired == 1
    with pytest.raises(Conflict):
        engine.complete(task_id, STAFF)
    assert open_tasks(engine, case_id) == ["Task_followup"]
    assert kinds(engine, case_id) == ["start", "timer_fired"]
