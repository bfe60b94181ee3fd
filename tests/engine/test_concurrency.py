"""Two people completing (or claiming) the same task at the same moment: exactly one succeeds, the other
is told who was first — with threads in one process and with separate processes on one database."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from functools import partial

import pytest
import sqlalchemy as sa
from common import ROOT, make_actor
from diagrams import files

from engine import Conflict, Engine
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Case, Event

ROUNDS = 4


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry())
    engine.deploy(files("chain.bpmn"), by="owner")
    return engine


def _race(calls) -> list[tuple[str, object]]:
    """Run the calls in threads released together; returns (name, "ok" | exception) per call."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[str, object]] = []
    lock = threading.Lock()

    def run(name, call):
        barrier.wait()
        try:
            call()
            outcome = "ok"
        except Exception as exc:
            outcome = exc
        with lock:
            results.append((name, outcome))

    threads = [threading.Thread(target=run, args=(name, call)) for name, call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def _check_one_winner(eng: Engine, case_id: int, task_id: str, results, version_before: int) -> str:
    winners = [name for name, outcome in results if outcome == "ok"]
    losers = [outcome for _, outcome in results if outcome != "ok"]
    assert len(winners) == 1, results
    (loser,) = losers
    assert isinstance(loser, Conflict), repr(loser)
    assert f"已由 {winners[0]} " in loser.message and "办理完毕" in loser.message
    with eng.db.read() as session:
        completes = session.scalars(sa.select(Event).where(Event.task_id == task_id, Event.kind == "complete")).all()
        assert [e.actor for e in completes] == winners
        assert session.get(Case, case_id).version == version_before + 1
    assert [item["bpmn_id"] for item in eng.work_items(case_id)] == ["Task_b"]
    return winners[0]


@pytest.mark.parametrize("engines", ["shared-engine", "one-engine-each"])
def test_two_threads_complete_the_same_task(eng, database, clock, engines):
    wang, zhao = make_actor("wang", "petition_staff"), make_actor("zhao", "petition_staff")
    other = eng if engines == "shared-engine" else Engine(database, clock, handlers=HandlerRegistry())
    for _ in range(ROUNDS):
        case_id = eng.start_case("chain", {}, wang)
        task_id = eng.find_task(case_id, "Task_a")
        version = eng.case(case_id)["version"]
        results = _race([
            ("wang", partial(eng.complete, task_id, wang, {"title": "王的标题"})),
            ("zhao", partial(other.complete, task_id, zhao, {"title": "赵的标题"})),
        ])
        winner = _check_one_winner(eng, case_id, task_id, results, version)
        assert eng.case(case_id)["data"]["title"] == {"wang": "王的标题", "zhao": "赵的标题"}[winner]
    assert eng.verify_audit().ok


def test_two_threads_claim_the_same_task(eng):
    wang, zhao = make_actor("wang", "petition_staff"), make_actor("zhao", "petition_staff")
    for _ in range(ROUNDS):
        case_id = eng.start_case("chain", {}, wang)
        task_id = eng.find_task(case_id, "Task_a")
        results = _race([("wang", partial(eng.claim, task_id, wang)), ("zhao", partial(eng.claim, task_id, zhao))])
        winners = [name for name, outcome in results if outcome == "ok"]
        assert len(winners) == 1, results
        (loser,) = [outcome for _, outcome in results if outcome != "ok"]
        assert isinstance(loser, Conflict), repr(loser)
        assert eng.work_items(case_id)[0]["assignee"] == winners[0]
        assert [e["kind"] for e in eng.history(case_id)] == ["start", "claim"]
    assert eng.verify_audit().ok


CHILD = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {root!r})
    from engine import Conflict, Engine, FakeClock
    from engine.runtime.handlers_registry import HandlerRegistry
    from engine.org.organisation import Actor

    url, task_id, name, go = sys.argv[1:5]
    engine = Engine(url, FakeClock("2026-03-02T09:00:00+08:00"), handlers=HandlerRegistry())
    actor = Actor(name, name, None, frozenset({{"petition_staff"}}))
    engine.work_items(0)  # connect before the start signal
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(go) and time.monotonic() < deadline:
        time.sleep(0.0005)
    try:
        engine.complete(task_id, actor, {{"title": name + " 的标题"}})
        print(json.dumps({{"result": "ok"}}), flush=True)
    except Conflict as exc:
        print(json.dumps({{"result": "conflict", "message": exc.message}}), flush=True)
    except Exception as exc:
        print(json.dumps({{"result": "error", "message": repr(exc)}}), flush=True)
""")


def test_two_processes_complete_the_same_task(eng, database, tmp_path):
    wang = make_actor("wang", "petition_staff")
    case_id = eng.start_case("chain", {}, wang)
    task_id = eng.find_task(case_id, "Task_a")
    version = eng.case(case_id)["version"]
    go = tmp_path / "go"
    code = CHILD.format(root=str(ROOT))
    children = {
        name: subprocess.Popen([sys.executable, "-c", code, database.url, task_id, name, str(go)], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("wang", "zhao")
    }
    try:
        for child in children.values():
            assert child.stdout.readline().strip() == "ready", child.stderr.read()
        go.touch()
        outputs = {}
        for name, child in children.items():
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            outputs[name] = json.loads(out.strip().splitlines()[-1])
    finally:
        for child in children.values():
            if child.poll() is None:
                child.kill()
    winners = [name for name, output in outputs.items() if output["result"] == "ok"]
    assert len(winners) == 1, outputs
    (loser,) = [output for output in outputs.values() if output["result"] != "ok"]
    assert loser["result"] == "conflict", loser
    assert f"已由 {winners[0]} " in loser["message"]
    results = [(name, "ok" if output["result"] == "ok" else Conflict(output["message"]))
               for name, output in outputs.items()]
    eng.commands._live.clear()
    _check_one_winner(eng, case_id, task_id, results, version)
    assert eng.case(case_id)["data"]["title"] == f"{winners[0]} 的标题"
    assert eng.verify_audit().ok


def test_a_slow_command_still_leaves_one_winner(eng, database, clock, monkeypatch):
    """Slow the engine run down, so the second command certainly arrives while the first is still in its
    transaction."""
    from engine.runtime import commands

    original = commands.run_engine
    def slow(workflow, skip=None):
        time.sleep(0.3)
        return original(workflow, skip)

    monkeypatch.setattr(commands, "run_engine", slow)
    other = Engine(database, clock, handlers=HandlerRegistry())
    wang, zhao = make_actor("wang", "petition_staff"), make_actor("zhao", "petition_staff")
    case_id = eng.start_case("chain", {}, wang)
    task_id = eng.find_task(case_id, "Task_a")
    version = eng.case(case_id)["version"]
    results = _race([("wang", lambda: eng.complete(task_id, wang, {"title": "标题一"})),
                     ("zhao", lambda: other.complete(task_id, zhao, {"title": "标题二"}))])
    _check_one_winner(eng, case_id, task_id, results, version)
