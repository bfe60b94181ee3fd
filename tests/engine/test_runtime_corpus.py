"""The runtime corpus (tests/engine/runtime_corpus/): Modeler diagrams that once broke the engine at run
time (issue 14, defects 1 and 2) — loops and multi-instance resumed in another process, tasks in a second
or nested subprocess, an escalation event subprocess, a signal boundary on a subprocess.
Each is driven with a fresh engine for every command (as the CLI, a restart or a second worker would) on
SQLite and PostgreSQL, and must reach its stated end without an incident."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from common import make_actor

from engine import Engine, IncidentRaised
from engine.bpmn.deployments import read_paths
from engine.runtime import commands

CORPUS = Path(__file__).parent / "runtime_corpus"
WORKER = make_actor("wang", "petition_staff", "leader_in_charge")

# file -> (steps, expected data subset); every scenario ends completed with no open work and no incident.
# steps: ("start", data) · ("complete", bpmn_id, data) · ("signal", name) · ("advance", hours)
SCENARIOS = {
    "rt_loop_standard": ([("start", {}), ("complete", "supplement", {"again": "true"}),
                          ("complete", "supplement", {"again": "false"})], {"again": False}),
    "rt_parallel_subprocesses": ([("start", {}), ("complete", "record_talk", {}), ("complete", "check_facts", {})],
                                 {}),
    "rt_escalation_event_subprocess": ([("start", {}), ("complete", "handle", {}), ("complete", "sub_note", {}),
                                        ("complete", "report", {})], {}),
    "rt_signal_boundary_subprocess": ([("start", {}), ("signal", "halt_handling")], {"halted": True}),
    # the timer (PT2H) fires while the main path runs: the reminder joins it, the case waits for both
    "rt_timer_event_subprocess_noninterrupting": ([("start", {}), ("advance", 3), ("complete", "handle", {}),
                                                   ("complete", "remind", {})], {}),
    # R3/PT1H: one reminder an hour while the main path runs
    "rt_timer_event_subprocess_cycle": ([("start", {}), ("advance", 1.5), ("complete", "handle", {}),
                                         ("complete", "remind", {})], {}),
    # the timer fires: the main path is cancelled and the case ends with the event subprocess
    "rt_timer_event_subprocess_interrupting": ([("start", {}), ("advance", 3)], {"expired": True}),
}


def test_every_runtime_corpus_file_has_a_scenario():
    """rt_timer_start_* start no case by hand: tests/engine/test_timer_starts.py drives them."""
    assert sorted(p.stem for p in CORPUS.glob("*.bpmn") if not p.stem.startswith("rt_timer_start_")) == sorted(
        SCENARIOS)


def _cold(database, clock) -> Engine:
    return Engine(database, clock)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_runtime_corpus_diagram_runs_to_its_end_loaded_cold_for_every_command(database, clock, name):
    _cold(database, clock).deploy(read_paths([CORPUS / f"{name}.bpmn"]), by="test")
    steps, data = SCENARIOS[name]
    case_id = None
    for kind, *args in steps:
        engine = _cold(database, clock)
        if kind == "start":
            case_id = engine.start_case(name, args[0], WORKER)
        elif kind == "complete":
            engine.complete(engine.find_task(case_id, args[0]), WORKER, args[1])
        elif kind == "advance":
            clock.advance(timedelta(hours=args[0]))
            assert engine.scheduler(owner="corpus").drain() == 1
        else:
            assert engine.signal(args[0], {}, WORKER) == [case_id]
    case = _cold(database, clock).case(case_id)
    assert (case["status"], case["work_items"], case["incidents"]) == ("completed", [], [])
    assert {key: case["data"].get(key) for key in data} == data


@pytest.mark.parametrize("cold", [False, True], ids=["kept", "cold"])
@pytest.mark.parametrize(("answers", "rounds"), [
    (["false"], 1),  # the data ends the loop after the first round
    (["true", "false"], 2),
    (["true", "true", "true"], 3),  # loopMaximum ends it however the data stands
])
def test_standard_loop_stops_when_its_condition_or_maximum_says_so(database, clock, cold, answers, rounds):
    engine = Engine(database, clock)
    engine.deploy(read_paths([CORPUS / "rt_loop_standard.bpmn"]), by="test")
    case_id = engine.start_case("rt_loop_standard", {}, WORKER)
    for answer in answers:
        engine = Engine(database, clock) if cold else engine
        engine.complete(engine.find_task(case_id, "supplement"), WORKER, {"again": answer})
    case = engine.case(case_id)
    assert [e["ordinal"] for e in case["events"] if e["kind"] == "complete"] == list(range(1, rounds + 1))
    assert (case["status"], case["work_items"], case["incidents"]) == ("completed", [], [])


def test_an_unexpected_error_inside_a_command_is_an_incident_and_changes_nothing(engine, monkeypatch):
    """Not a diagram's fault, but the engine's own (here: compaction): still an incident, never a traceback."""
    engine.deploy(read_paths([CORPUS / "rt_parallel_subprocesses.bpmn"]), by="test")
    case_id = engine.start_case("rt_parallel_subprocesses", {}, WORKER)
    before = engine.case(case_id)

    def broken(workflow):
        raise KeyError("lost")

    monkeypatch.setattr(commands, "compact", broken)
    with pytest.raises(IncidentRaised) as raised:
        engine.complete(engine.find_task(case_id, "record_talk"), WORKER, {})
    after = engine.case(case_id)
    assert (after["version"], after["data"], after["work_items"]) == (
        before["version"], before["data"], before["work_items"])
    [incident] = after["incidents"]
    assert incident["id"] == raised.value.incident_id
    assert incident["error_type"] == "KeyError"
    assert incident["message"].startswith("流程引擎内部错误（KeyError）")
    monkeypatch.undo()
    engine.retry(incident["id"], WORKER)
    assert [i["bpmn_id"] for i in engine.work_items(case_id)] == ["check_facts"]


@pytest.mark.parametrize("name", ["rt_timer_event_subprocess_noninterrupting",
                                  "rt_timer_event_subprocess_interrupting"])
def test_the_case_ends_with_its_main_path_before_a_timer_event_subprocess_fires(database, clock, name):
    _cold(database, clock).deploy(read_paths([CORPUS / f"{name}.bpmn"]), by="test")
    case_id = _cold(database, clock).start_case(name, {}, WORKER)
    assert [t["bpmn_id"] for t in _cold(database, clock).case(case_id)["timers"]] == ["sub_start"]
    engine = _cold(database, clock)
    engine.complete(engine.find_task(case_id, "handle"), WORKER, {})
    case = engine.case(case_id)
    assert (case["status"], case["work_items"], case["timers"], case["incidents"]) == ("completed", [], [], [])
    clock.advance(timedelta(hours=3))
    assert engine.scheduler(owner="corpus").drain() == 0


def test_a_non_interrupting_timer_event_subprocess_keeps_the_case_open_until_it_ends(database, clock):
    name = "rt_timer_event_subprocess_noninterrupting"
    engine = Engine(database, clock)
    engine.deploy(read_paths([CORPUS / f"{name}.bpmn"]), by="test")
    case_id = engine.start_case(name, {}, WORKER)
    clock.advance(timedelta(hours=3))
    engine.scheduler(owner="corpus").drain()
    assert sorted(i["bpmn_id"] for i in engine.work_items(case_id)) == ["handle", "remind"]
    engine.complete(engine.find_task(case_id, "handle"), WORKER, {})
    assert (engine.case(case_id)["status"], [i["bpmn_id"] for i in engine.work_items(case_id)]) == (
        "running", ["remind"])


def test_a_cycle_event_subprocess_stops_repeating_when_the_main_path_ends(database, clock):
    """Reminders already started are still done; no further ones come; then the case ends."""
    name = "rt_timer_event_subprocess_cycle"
    _cold(database, clock).deploy(read_paths([CORPUS / f"{name}.bpmn"]), by="test")
    case_id = _cold(database, clock).start_case(name, {}, WORKER)
    for hours in (1.5, 1):
        clock.advance(timedelta(hours=hours))
        assert _cold(database, clock).scheduler(owner="corpus").drain() == 1
    engine = _cold(database, clock)
    engine.complete(engine.find_task(case_id, "handle"), WORKER, {})
    case = engine.case(case_id)
    assert (case["status"], [i["bpmn_id"] for i in case["work_items"]], case["timers"]) == (
        "running", ["remind", "remind"], [])
    clock.advance(timedelta(hours=5))
    assert engine.scheduler(owner="corpus").drain() == 0
    for item in engine.work_items(case_id):
        _cold(database, clock).complete(item["task_id"], WORKER, {})
    case = _cold(database, clock).case(case_id)
    assert (case["status"], case["work_items"], case["incidents"]) == ("completed", [], [])


@pytest.mark.parametrize(("again", "rounds"), [("false", 0), ("true", 1)])
def test_a_loop_tested_before_runs_no_round_when_its_condition_fails_at_once(engine, again, rounds):
    text = (CORPUS / "rt_loop_standard.bpmn").read_text().replace(
        '<bpmn:standardLoopCharacteristics loopMaximum="3">',
        '<bpmn:standardLoopCharacteristics testBefore="true" loopMaximum="3">')
    engine.deploy({"rt_loop_standard.bpmn": text}, by="test")
    case_id = engine.start_case("rt_loop_standard", {"again": again == "true"}, WORKER)
    for _ in range(rounds):
        engine.complete(engine.find_task(case_id, "supplement"), WORKER, {"again": "false"})
    case = engine.case(case_id)
    assert len([e for e in case["events"] if e["kind"] == "complete"]) == rounds
    assert (case["status"], case["work_items"], case["incidents"]) == ("completed", [], [])
