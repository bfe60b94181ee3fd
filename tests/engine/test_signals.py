"""Engine.signal: broadcast to every case waiting for the signal (catch, boundary, event subprocess) and
start every process with a signal start event of that name, as Camunda does."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from common import make_actor

import cli.main
from engine.bpmn.deployments import read_paths
from engine.store.models import User

CORPUS = Path(__file__).parent / "corpus_events"
STAFF = make_actor("wang", "petition_staff")


def _deploy(engine, *names: str) -> None:
    engine.deploy(read_paths([CORPUS / f"{name}.bpmn" for name in names]), by="test")


def test_signal_reaches_every_waiting_case_and_starts_its_processes(engine):
    _deploy(engine, "ev_signal_catch", "ev_signal_start")
    waiting = [engine.start_case("ev_signal_catch", {}, STAFF) for _ in range(3)]
    assert engine.signal("calendar_published", {"year": 2027}, STAFF) == waiting
    assert all(engine.case(case_id)["data"]["year"] == 2027 for case_id in waiting)
    assert [engine.case(case_id)["status"] for case_id in waiting] == ["completed"] * 3
    started = engine.signal("month_closed", {}, STAFF)
    assert len(started) == 1 and engine.case(started[0])["process_id"] == "ev_signal_start"


def test_signal_nobody_waits_for_reaches_nothing(engine):
    _deploy(engine, "ev_signal_catch")
    case_id = engine.start_case("ev_signal_catch", {}, STAFF)
    assert engine.signal("other_signal", {}, STAFF) == []
    assert engine.case(case_id)["status"] == "running"


def test_signal_is_delivered_once_per_case_and_audited(engine):
    _deploy(engine, "ev_signal_boundary")
    case_id = engine.start_case("ev_signal_boundary", {}, STAFF)
    assert engine.signal("halt_all", {}, STAFF) == [case_id]
    assert engine.signal("halt_all", {}, STAFF) == []
    events = [event for event in engine.history(case_id) if event["kind"] == "signal_received"]
    assert [(e["bpmn_id"], e["payload"]["name"]) for e in events] == [("halted", "halt_all")]


def test_interrupting_event_subprocess_cancels_the_open_work(engine):
    _deploy(engine, "ev_subprocess_signal")
    case_id = engine.start_case("ev_subprocess_signal", {}, STAFF)
    assert [item["bpmn_id"] for item in engine.work_items(case_id)] == ["handle"]
    engine.signal("emergency_stop", {}, STAFF)
    assert engine.work_items(case_id) == []
    assert engine.case(case_id)["status"] == "completed"


def test_signal_thrown_by_one_case_reaches_the_others(engine):
    _deploy(engine, "ev_signal_boundary", "ev_signal_throw_across")
    halted = [engine.start_case("ev_signal_boundary", {}, STAFF) for _ in range(2)]
    thrower = engine.start_case("ev_signal_throw_across", {}, STAFF)
    engine.complete(engine.find_task(thrower, "decide"), STAFF, {})
    assert [engine.case(case_id)["status"] for case_id in (*halted, thrower)] == ["completed"] * 3
    assert all(engine.work_items(case_id) == [] for case_id in halted)


def test_cli_signal_command(engine):
    with engine.db.write() as session:
        session.add(User(name="admin", display_name="管理员"))
    _deploy(engine, "ev_signal_catch")
    case_id = engine.start_case("ev_signal_catch", {}, STAFF)
    run = CliRunner().invoke(cli.main.main, ["--database-url", engine.db.url, "signal", "calendar_published"])
    assert (run.exit_code, run.output.strip()) == (0, str(case_id))
    again = CliRunner().invoke(cli.main.main, ["--database-url", engine.db.url, "signal", "calendar_published"])
    assert again.output.strip() == "没有等待信号“calendar_published”的案件"
