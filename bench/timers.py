"""Timer benchmarks for `xinfang bench`: latency with the real 1 s ticker, drain rate, idle tick cost.

Many waiting cases are made by cloning one real case's state with fresh task ids (the engine would take
minutes to start 10,000 cases one by one, and starting them is not what is measured here).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from bench.measure import DIAGRAM_HEAD, figures
from engine.api import Engine
from engine.org.organisation import Actor
from engine.store import schema
from engine.store.db import Database
from engine.store.models import Case, Event, Timer

_ACTOR = Actor("bench", "bench", None, frozenset({"petition_staff"}))
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def timer_diagram() -> str:
    """Start, wait `${delay}` (an ISO duration from the case data), then a user task."""
    return DIAGRAM_HEAD + (
        '<bpmn:process id="bench_timer" isExecutable="true">'
        '<bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>'
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>'
        '<bpmn:timerEventDefinition><bpmn:timeDuration>${delay}</bpmn:timeDuration></bpmn:timerEventDefinition>'
        '</bpmn:intermediateCatchEvent>'
        '<bpmn:userTask id="after" camunda:candidateGroups="petition_staff"><bpmn:incoming>f1</bpmn:incoming>'
        '<bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>'
        '<bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="wait"/>'
        '<bpmn:sequenceFlow id="f1" sourceRef="wait" targetRef="after"/>'
        '<bpmn:sequenceFlow id="f2" sourceRef="after" targetRef="end"/>'
        '</bpmn:process></bpmn:definitions>'
    )


def _deploy(engine: Engine) -> None:
    engine.deploy({"bench_timer.bpmn": timer_diagram()}, by="bench")


def latency(engine: Engine, timers: int = 40, spread_s: int = 10) -> dict:
    """Real clock, default 1 s tick: how long after its due instant each timer fired."""
    _deploy(engine)
    for index in range(timers):
        engine.start_case("bench_timer", {"delay": f"PT{2 + index * spread_s / timers:.3f}S"}, _ACTOR)
    ticker = engine.scheduler().start(interval=1.0)
    try:
        deadline = time.monotonic() + spread_s + 15
        while time.monotonic() < deadline and _waiting(engine):
            time.sleep(0.2)
    finally:
        ticker.shutdown(wait=True)
    with engine.db.read() as session:
        events = session.scalars(sa.select(Event).where(Event.kind == "timer_fired"))
        samples = [(e.at - datetime.fromisoformat(json.loads(e.payload)["due_at"])).total_seconds() * 1000
                   for e in events]
    return {**figures(samples), "tick_s": 1.0, "not_fired": timers - len(samples)}


def _waiting(engine: Engine) -> int:
    with engine.db.read() as session:
        return session.scalar(sa.select(sa.func.count(Timer.id)))


def clone_waiting_cases(engine: Engine, count: int) -> datetime:
    """`count` copies of one case waiting on a timer, each with its own task ids; returns their due time."""
    _deploy(engine)
    template_id = engine.start_case("bench_timer", {"delay": "PT1H"}, _ACTOR)
    with engine.db.write() as session:
        template = session.get(Case, template_id)
        timer = session.scalars(sa.select(Timer).where(Timer.case_id == template_id)).one()
        due = timer.due_at
        state, columns = template.state, {c.name: getattr(template, c.name) for c in Case.__table__.columns}
        old_ids = sorted(set(_UUID.findall(state)))
        for start in range(0, count - 1, 1000):
            cases, rows = [], []
            for _ in range(min(1000, count - 1 - start)):
                fresh = {old: str(uuid.uuid4()) for old in old_ids}
                cases.append({**columns, "id": None, "state": _UUID.sub(lambda m, f=fresh: f[m.group(0)], state)})
                rows.append(fresh[timer.task_id])
            ids = session.scalars(sa.insert(Case).returning(Case.id), [
                {k: v for k, v in case.items() if k != "id"} for case in cases]).all()
            session.execute(sa.insert(Timer), [
                {"case_id": case_id, "task_id": task_id, "process_id": timer.process_id, "bpmn_id": timer.bpmn_id,
                 "name": timer.name, "kind": timer.kind, "due_at": due, "attempts": 0}
                for case_id, task_id in zip(ids, rows, strict=True)])
    return due


def drain_worker(url: str, now_iso: str) -> None:
    """One scheduler process of the drain benchmark (run through `python -c`): set up, say ready, wait for
    the go line so interpreter start-up is not measured, drain, report how many it fired."""
    from engine.timing.clock import FakeClock

    engine = Engine(url, FakeClock(now_iso))
    print("ready", flush=True)
    sys.stdin.readline()
    print(engine.scheduler().drain(), flush=True)


def drain(engine: Engine, url: str, timers: int, processes: int) -> dict:
    """Timers all due at once, drained by `processes` scheduler processes; timers fired per second."""
    now = clone_waiting_cases(engine, timers) + timedelta(minutes=1)  # the workers' clock: all are due
    code = f"from bench.timers import drain_worker; drain_worker({url!r}, {now.isoformat()!r})"
    workers = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True) for _ in range(processes)]
    for worker in workers:
        worker.stdout.readline()
    started = time.perf_counter()
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    fired = sum(int(worker.communicate()[0].strip() or 0) for worker in workers)
    elapsed = time.perf_counter() - started
    return {"timers": timers, "processes": processes, "fired": fired, "seconds": round(elapsed, 2),
            "timers_per_s": round(fired / elapsed, 1), "left": _waiting(engine)}


def run_timer_benchmarks(backends: dict[str, Callable[[], str]], timers: int) -> dict:
    """Every timer figure, per backend; `backends` maps a name to a factory of fresh database URLs."""
    report: dict = {}
    for name, fresh_url in backends.items():
        section: dict = {}
        url = fresh_url()
        section["latency_1s_tick"] = latency(_engine(url))
        for processes in ([1, 4] if name == "postgresql" else [1, 2]):
            url = fresh_url()
            section[f"drain_{processes}_process"] = drain(_engine(url), url, timers, processes)
        section["idle_tick_100k_future_timers"] = idle_tick(_engine(fresh_url()))
        report[name] = section
    return report


def _engine(url: str) -> Engine:
    database = Database(url)
    schema.upgrade(database)
    return Engine(database)


def idle_tick(engine: Engine, future_timers: int = 100_000, ticks: int = 50) -> dict:
    """The cost of a tick that finds nothing due, with many future timers in the table."""
    _deploy(engine)
    case_id = engine.start_case("bench_timer", {"delay": "P30D"}, _ACTOR)
    later = engine.now() + timedelta(days=365)
    with engine.db.write() as session:
        for start in range(0, future_timers, 10_000):
            session.execute(sa.insert(Timer), [
                {"case_id": case_id, "task_id": str(uuid.uuid4()), "process_id": "bench_timer", "bpmn_id": "wait",
                 "name": None, "kind": "duration", "due_at": later + timedelta(seconds=i), "attempts": 0}
                for i in range(start, min(start + 10_000, future_timers))])
    scheduler = engine.scheduler()
    scheduler.tick()
    samples = []
    for _ in range(ticks):
        started = time.perf_counter()
        scheduler.tick()
        samples.append((time.perf_counter() - started) * 1000)
    return {**figures(samples), "future_timers": future_timers + 1, "median_ms": round(statistics.median(samples), 3)}
