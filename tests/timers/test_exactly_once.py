"""Exactly once, none lost.

On both databases: a due timer is neither lost nor fired unrecorded when some other command runs on its
case first, and two timers of one case due together are two firings. On PostgreSQL: 2,000 due timers
drained by four scheduler *processes*, and a scheduler process SIGKILLed in the middle of firing; on
SQLite, one SIGKILLed in the middle of a transaction shared by several firings.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.store.models import Event, Timer

from .support import (
    HEAD,
    ONE_SECOND,
    STAFF,
    at,
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

ROOT = Path(__file__).resolve().parents[2]
START = at("2026-03-02T09:00:00+08:00")


def fork_process(process_id: str, branches: str) -> str:
    """A parallel fork into `branches` (each must end in a flow to Join), a join, an end."""
    return process(process_id, f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_start" sourceRef="StartEvent_1" targetRef="Fork" />
    <bpmn:parallelGateway id="Fork" />{branches}
    <bpmn:parallelGateway id="Join" />
    <bpmn:sequenceFlow id="Flow_end" sourceRef="Join" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />""")


def timer_branch(name: str, timer: str = "<bpmn:timeDuration>PT1H</bpmn:timeDuration>") -> str:
    """Fork → Timer_<name> → Task_<name> → Join."""
    return f"""
    <bpmn:sequenceFlow id="Flow_fork_{name}" sourceRef="Fork" targetRef="Timer_{name}" />
    <bpmn:intermediateCatchEvent id="Timer_{name}" name="等待{name}">
      <bpmn:timerEventDefinition>{timer}</bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_timer_{name}" sourceRef="Timer_{name}" targetRef="Task_{name}" />
    <bpmn:userTask id="Task_{name}" name="办理{name}" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_join_{name}" sourceRef="Task_{name}" targetRef="Join" />"""


def task_branch(name: str, boundary: str = "") -> str:
    """Fork → Task_<name> (optionally with a boundary event) → Join."""
    return f"""
    <bpmn:sequenceFlow id="Flow_fork_{name}" sourceRef="Fork" targetRef="Task_{name}" />
    <bpmn:userTask id="Task_{name}" name="办理{name}" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_join_{name}" sourceRef="Task_{name}" targetRef="Join" />{boundary}"""


EXTENSIBLE = """
    <bpmn:boundaryEvent id="Timer_deadline" name="期限" attachedToRef="Task_a" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDate>${workdays(3)}</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="Flow_deadline" sourceRef="Timer_deadline" targetRef="EndEvent_deadline" />
    <bpmn:endEvent id="EndEvent_deadline" />"""


def fired_ids(engine, case_id: int) -> list[str]:
    return sorted(event["bpmn_id"] for event in events(engine, case_id, "timer_fired"))


# ---- both databases: the engine fires a timer only as its own, recorded command ------------------------------


def test_a_due_timer_survives_a_command_on_another_timer_of_its_case(engine, clock):
    """The deadline of Task_a is moved while Timer_b is already due but not yet fired by the scheduler."""
    deploy(engine, fork_process("fork_move", task_branch("a", EXTENSIBLE) + timer_branch("b")))
    case_id = engine.start_case("fork_move", {}, STAFF)
    clock.set(START + timedelta(hours=1, seconds=1))  # Timer_b is due; the scheduler has not ticked yet

    engine.move_deadline(case_id, "Timer_deadline", at("2026-03-20T00:00:00+08:00"), HEAD, "延期")

    engine.scheduler().drain()
    assert fired_ids(engine, case_id) == ["Timer_b"]
    assert open_tasks(engine, case_id) == ["Task_a", "Task_b"]
    assert [row.bpmn_id for row in timer_rows(engine, case_id)] == ["Timer_deadline"]


def test_a_timer_due_while_a_user_completes_a_parallel_task_fires_once_and_is_recorded(engine, clock):
    deploy(engine, fork_process("fork_complete", task_branch("a") + task_branch("c") + timer_branch("b")))
    case_id = engine.start_case("fork_complete", {}, STAFF)
    clock.set(START + timedelta(hours=1, seconds=1))

    engine.complete(engine.find_task(case_id, "Task_a"), STAFF)
    engine.scheduler().drain()

    assert fired_ids(engine, case_id) == ["Timer_b"]
    assert open_tasks(engine, case_id) == ["Task_b", "Task_c"]
    assert timer_rows(engine, case_id) == []
    event = events(engine, case_id, "timer_fired")[0]
    assert event["actor"] == "scheduler"


def test_two_timers_of_one_case_due_together_are_two_firings(engine, clock):
    deploy(engine, fork_process("fork_timers", timer_branch("a") + timer_branch("b")))
    case_id = engine.start_case("fork_timers", {}, STAFF)
    assert len(timer_rows(engine, case_id)) == 2
    clock.set(START + timedelta(hours=1, seconds=1))

    assert engine.scheduler().drain() == 2
    assert fired_ids(engine, case_id) == ["Timer_a", "Timer_b"]
    assert open_tasks(engine, case_id) == ["Task_a", "Task_b"]
    assert kinds(engine, case_id) == ["start", "timer_fired", "timer_fired"]


def test_a_scheduler_that_claimed_one_of_two_timers_fires_only_that_one(engine, clock):
    later = timer_branch("b", "<bpmn:timeDuration>PT2H</bpmn:timeDuration>")
    deploy(engine, fork_process("fork_timers", timer_branch("a") + later))
    case_id = engine.start_case("fork_timers", {}, STAFF)
    clock.set(START + timedelta(hours=1, seconds=1))
    first = engine.scheduler(owner="A")
    [timer_a] = lease(first, clock.now())
    clock.set(START + timedelta(hours=2, seconds=1))  # now Timer_b is due too, but nobody leased it yet
    engine.commands.fire_timer(timer_a, "A")
    assert fired_ids(engine, case_id) == ["Timer_a"]
    assert timer_row(engine, case_id).bpmn_id == "Timer_b"
    assert engine.scheduler(owner="B").drain() == 1
    assert fired_ids(engine, case_id) == ["Timer_a", "Timer_b"]


# ---- PostgreSQL: scheduler processes -------------------------------------------------------------------------

WORKER = textwrap.dedent("""
    import sys
    from engine import Engine, FakeClock

    url, now, owner, batch = sys.argv[1:5]
    engine = Engine(url, FakeClock(now))
    scheduler = engine.scheduler(owner=owner, batch=int(batch))
    print("ready", flush=True)
    sys.stdin.readline()
    print(scheduler.drain(), flush=True)
""")

VICTIM = textwrap.dedent("""
    import sys, threading
    from engine import Engine, FakeClock, audit

    url, now = sys.argv[1:3]
    engine = Engine(url, FakeClock(now))
    original = audit.append
    fired = []

    def append(session, *, kind, **kwargs):
        if kind == "timer_fired":
            if fired:  # the second firing: inside its transaction, with the case and timer rows locked
                session.flush()
                print("blocked", flush=True)
                threading.Event().wait()
            fired.append(kwargs["case_id"])
        return original(session, kind=kind, **kwargs)

    audit.append = append
    engine.scheduler(owner="victim", batch=20, lease_seconds=60).tick()
    print("not blocked", flush=True)
""")


def spawn(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def backends(engine, application_name: str) -> int:
    with engine.db.read() as session:
        return session.scalar(sa.text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                              {"name": application_name})


def wait_until_disconnected(engine, application_name: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if backends(engine, application_name) == 0:
            return
        time.sleep(0.05)
    pytest.fail(f"the backend of {application_name} is still there after {seconds} s")


def fired_per_case(engine) -> Counter:
    with engine.db.read() as session:
        return Counter(session.scalars(sa.select(Event.case_id).where(Event.kind == "timer_fired")))


def assert_each_case_fired_once(engine, case_ids: list[int]) -> None:
    """Every case's timer fired exactly once, nothing is left waiting or failed, the audit chain holds."""
    per_case = fired_per_case(engine)
    assert set(per_case) == set(case_ids) and set(per_case.values()) == {1}
    assert timer_rows(engine) == [] and incidents(engine) == []
    assert all(open_tasks(engine, case_id) == ["Task_after"] for case_id in case_ids)
    assert engine.verify_audit().ok


def start_waiting_cases(engine, count: int) -> list[int]:
    deploy(engine, process("timer_minute", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Timer_wait" />
    <bpmn:intermediateCatchEvent id="Timer_wait" name="等一分钟">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1M</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer_wait" targetRef="Task_after" />
    <bpmn:userTask id="Task_after" name="后续办理" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_after" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />"""))
    return [engine.start_case("timer_minute", {}, STAFF) for _ in range(count)]


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_four_scheduler_processes_fire_2000_timers_exactly_once(engine, clock, postgres_url):
    case_ids = start_waiting_cases(engine, 2000)
    with engine.db.read() as session:
        assert session.scalar(sa.select(sa.func.count(Timer.id))) == 2000
    now = (START + timedelta(minutes=1, seconds=1)).isoformat()
    workers = [spawn(WORKER, postgres_url, now, f"proc-{index}", "25") for index in range(4)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    for worker in workers:  # all four start draining together
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0], [err for _, err in outputs]
    reported = [int(out.strip()) for out, _ in outputs]

    assert sum(reported) == 2000
    assert sum(1 for count in reported if count) >= 2, reported  # the work really was shared
    per_case = fired_per_case(engine)
    assert set(per_case) == set(case_ids)
    assert set(per_case.values()) == {1}
    assert timer_rows(engine) == []
    assert incidents(engine) == []
    with engine.db.read() as session:
        waiting = session.scalar(sa.select(sa.func.count()).select_from(sa.text("work_items")))
    assert waiting == 2000  # every case went on to its user task
    assert engine.verify_audit().ok  # the hash chain survived four concurrent writers


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_a_scheduler_killed_in_the_middle_of_firing_loses_no_timer_and_fires_none_twice(engine, clock,
                                                                                         postgres_url):
    case_ids = start_waiting_cases(engine, 30)
    due_now = START + timedelta(minutes=1, seconds=1)
    clock.set(due_now)
    victim_url = sa.engine.make_url(postgres_url).update_query_dict({"application_name": "victim"})
    victim = spawn(VICTIM, victim_url.render_as_string(hide_password=False), due_now.isoformat())
    try:
        line = victim.stdout.readline().strip()
        assert line == "blocked", (line, victim.stderr.read() if line != "blocked" else "")
        # The victim leased 20 timers, fired one and hangs inside the second firing's transaction.
        rows = timer_rows(engine)
        assert len(rows) == 29
        assert sum(row.lease_owner == "victim" for row in rows) == 19
        assert backends(engine, "victim") >= 1
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL
    wait_until_disconnected(engine, "victim")  # PostgreSQL rolls the open transaction back
    assert sum(fired_per_case(engine).values()) == 1  # the half-done firing was rolled back

    survivor = engine.scheduler(owner="survivor", lease_seconds=60)
    assert survivor.drain() == 10  # the unleased ones at once; the victim's leases are still live
    assert len(timer_rows(engine)) == 19
    clock.advance(seconds=60)
    assert survivor.drain() == 0
    clock.advance(ONE_SECOND)  # past the dead victim's lease
    assert survivor.drain() == 19

    assert_each_case_fired_once(engine, case_ids)


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_sqlite_scheduler_killed_in_the_middle_of_a_shared_transaction_loses_no_timer(engine, clock):
    """On SQLite the victim's 20 firings share one transaction: killed in the second, it committed none."""
    case_ids = start_waiting_cases(engine, 30)
    due_now = START + timedelta(minutes=1, seconds=1)
    clock.set(due_now)
    victim = spawn(VICTIM, engine.db.url, due_now.isoformat())
    try:
        line = victim.stdout.readline().strip()
        assert line == "blocked", (line, victim.stderr.read() if line != "blocked" else "")
        rows = timer_rows(engine)  # WAL: readers go on while the victim holds the write lock
        assert len(rows) == 30 and sum(row.lease_owner == "victim" for row in rows) == 20
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert sum(fired_per_case(engine).values()) == 0  # the open transaction died with the process

    survivor = engine.scheduler(owner="survivor", lease_seconds=60)
    assert survivor.drain() == 10  # the unleased ones at once; the victim's leases are still live
    clock.advance(seconds=61)  # past the dead victim's lease
    assert survivor.drain() == 20

    assert_each_case_fired_once(engine, case_ids)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_scheduler_processes_racing_on_the_timers_of_the_same_cases(engine, clock, postgres_url):
    """100 cases × 4 parallel timers due together: four processes contend for the same case rows."""
    branches = "".join(timer_branch(name) for name in "abcd")
    deploy(engine, fork_process("fork_four", branches))
    case_ids = [engine.start_case("fork_four", {}, STAFF) for _ in range(100)]
    now = (START + timedelta(hours=1, seconds=1)).isoformat()
    # One timer per claim: the four processes take neighbouring rows, i.e. the timers of the same case.
    workers = [spawn(WORKER, postgres_url, now, f"proc-{index}", "1") for index in range(4)]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0], [err for _, err in outputs]
    reported = [int(out.strip()) for out, _ in outputs]

    # Firings of one case wait for each other on the case row lock; none is refused or left for later.
    assert sum(reported) == 400
    assert timer_rows(engine) == [] and incidents(engine) == []
    for case_id in case_ids:
        assert fired_ids(engine, case_id) == ["Timer_a", "Timer_b", "Timer_c", "Timer_d"]
        assert open_tasks(engine, case_id) == ["Task_a", "Task_b", "Task_c", "Task_d"]
    assert engine.verify_audit().ok
