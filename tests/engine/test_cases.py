"""Cases: started on the newest deployment, the case view, state stored without the spec, our own
completion check, and dates/decimals surviving forms, storage and a fresh load."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from common import DEMO_DIAGRAM, make_actor
from diagrams import files, read
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.defaults import NoneTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.camunda.specs.user_task import UserTask
from SpiffWorkflow.util.task import TaskState

from engine import Engine, IncidentRaised
from engine.bpmn.deployments import read_paths
from engine.bpmn.dialect import HandlerServiceTask, XinfangUserTask
from engine.runtime.casestate import StuckCase, is_finished
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Case, Deployment


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry())
    engine.deploy(files("chain.bpmn", "typed.bpmn"), by="owner")
    return engine


@pytest.fixture
def staff():
    return make_actor("wang", "petition_staff")


def _row(eng: Engine, case_id: int) -> tuple[Case, Deployment]:
    with eng.db.read() as session:
        case = session.get(Case, case_id)
        _ = case.state  # deferred column
        return case, session.get(Deployment, case.deployment_id)


def test_start_uses_the_newest_deployment_with_initial_data(eng, staff, clock):
    (v2,) = eng.deploy({"chain.bpmn": read("chain.bpmn").replace('name="登记"', 'name="登记（二）"')}, by="owner")
    case_id = eng.start_case("chain", {"source": "letter", "count_hint": 3}, staff)
    case = eng.case(case_id)
    assert case["deployment"]["id"] == v2.deployment_id and case["deployment"]["version"] == 2
    assert case["data"] == {"source": "letter", "count_hint": 3}
    assert [item["name"] for item in case["work_items"]] == ["登记（二）"]
    assert (case["status"], case["created_by"], case["created_at"]) == ("running", "wang", clock.now().isoformat())
    assert case["completed_at"] is None


def test_the_case_view(eng, staff, clock):
    case_id = eng.start_case("chain", {"source": "visit"}, staff)
    clock.advance(minutes=5)
    eng.complete(eng.find_task(case_id, "Task_a"), staff, {"title": "补偿款", "count": "2", "kind": "visit"})
    case = eng.case(case_id)
    assert set(case) >= {"id", "process_id", "status", "version", "deployment", "data", "work_items", "timers",
                         "incidents", "events", "created_at", "updated_at", "completed_at"}
    assert (case["id"], case["process_id"], case["status"], case["version"]) == (case_id, "chain", "running", 2)
    assert set(case["deployment"]) == {"id", "version", "hash"}
    assert case["data"] == {"source": "visit", "title": "补偿款", "count": 2, "kind": "visit"}
    assert [(i["bpmn_id"], i["name"]) for i in case["work_items"]] == [("Task_b", "复核")]
    assert case["timers"] == [] and case["incidents"] == []
    assert [(e["seq"], e["kind"], e["actor"]) for e in case["events"]] == [
        (1, "start", "wang"), (2, "complete", "wang")]
    assert case["updated_at"] == clock.now().isoformat()
    json.dumps(case)  # the view is plain JSON

    eng.complete(eng.find_task(case_id, "Task_b"), staff)
    done = eng.case(case_id)
    assert (done["status"], done["work_items"], done["completed_at"]) == ("completed", [], clock.now().isoformat())


def _spiff_serializer() -> BpmnWorkflowSerializer:
    # SpiffWorkflow's own serializer, taught our two task-spec subclasses
    config = {**CAMUNDA_CONFIG, XinfangUserTask: CAMUNDA_CONFIG[UserTask], HandlerServiceTask: CAMUNDA_CONFIG[NoneTask]}
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


def test_stored_state_does_not_embed_the_spec(database, clock, staff):
    eng = Engine(database, clock)  # the demo's handlers
    eng.deploy(read_paths([DEMO_DIAGRAM]), by="owner")
    case_id = eng.start_case("demo_petition", {"source": "direct"}, staff)
    eng.complete(eng.find_task(case_id, "Task_register"), staff,
                 {"summary": "侵占补偿款", "channel": "letter", "real_name": True})
    case, deployment = _row(eng, case_id)
    stored = json.loads(case.state)
    assert "spec" not in stored and "subprocess_specs" not in stored
    for spec_text in ("告知方式", "问题摘要", "archive_note", "workdays"):  # form labels, script, expressions
        assert spec_text not in case.state

    loaded = eng.specs.get(deployment)
    workflow = eng.commands.serializer.loads(case.state, loaded.spec, loaded.subprocess_specs)
    theirs = _spiff_serializer().serialize_json(workflow)
    assert "spec" in json.loads(theirs)
    assert len(case.state) * 2 < len(theirs), (len(case.state), len(theirs))
    # and loading gives the same tasks back
    again = json.loads(eng.commands.serializer.dumps(workflow))
    assert again["tasks"] == stored["tasks"] and again["root"] == stored["root"]


def test_is_finished_refuses_to_trust_is_completed(eng, staff):
    case_id = eng.start_case("chain", {}, staff)
    case, deployment = _row(eng, case_id)
    loaded = eng.specs.get(deployment)
    workflow = eng.commands.serializer.loads(case.state, loaded.spec, loaded.subprocess_specs)
    assert is_finished(workflow) is False
    assert any(t.state == TaskState.READY for t in workflow.get_tasks())
    workflow.is_completed = lambda: True  # what SpiffWorkflow reports after the depth-1000 stall
    with pytest.raises(StuckCase) as stuck:
        is_finished(workflow)
    assert "Task_a" in str(stuck.value)


def test_is_finished_true_only_when_everything_is_done(eng, staff):
    case_id = eng.start_case("chain", {}, staff)
    eng.complete(eng.find_task(case_id, "Task_a"), staff, {"title": "标题"})
    eng.complete(eng.find_task(case_id, "Task_b"), staff)
    case, deployment = _row(eng, case_id)
    loaded = eng.specs.get(deployment)
    workflow = eng.commands.serializer.loads(case.state, loaded.spec, loaded.subprocess_specs)
    assert is_finished(workflow) is True
    assert case.status == "completed"


def test_a_stuck_case_is_not_stored_as_completed(eng, staff, monkeypatch):
    case_id = eng.start_case("chain", {}, staff)
    task_id = eng.find_task(case_id, "Task_a")
    before, _ = _row(eng, case_id)
    monkeypatch.setattr(BpmnWorkflow, "is_completed", lambda self: True)
    with pytest.raises(IncidentRaised):
        eng.complete(task_id, staff, {"title": "标题"})
    monkeypatch.undo()
    after, _ = _row(eng, case_id)
    assert (after.status, after.version, after.state, after.completed_at) == (
        "running", before.version, before.state, None)
    (incident,) = eng.case(case_id)["incidents"]
    assert incident["error_type"] == "StuckCase"
    assert [item["task_id"] for item in eng.work_items(case_id)] == [task_id]


@pytest.mark.parametrize("reload", ["cache-cleared", "new-engine"])
def test_dates_and_decimals_round_trip(eng, staff, database, clock, reload):
    case_id = eng.start_case("typed", {}, staff)
    eng.complete(eng.find_task(case_id, "Task_form"), staff, {"received_on": "2026-02-28", "amount": "12.30"})
    case, deployment = _row(eng, case_id)
    loaded = eng.specs.get(deployment)
    workflow = eng.commands.serializer.loads(case.state, loaded.spec, loaded.subprocess_specs)
    (confirm,) = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "Task_confirm"]
    assert confirm.data["received_on"] == date(2026, 2, 28) and type(confirm.data["received_on"]) is date
    assert confirm.data["amount"] == Decimal("12.30") and str(confirm.data["amount"]) == "12.30"

    if reload == "cache-cleared":
        eng.commands._live.clear()
        runner = eng
    else:
        runner = Engine(database, clock, handlers=HandlerRegistry())
    runner.complete(runner.find_task(case_id, "Task_confirm"), staff)
    data = runner.case(case_id)["data"]
    assert data["is_date"] is True and data["is_decimal"] is True
    assert (data["next_day"], data["doubled"]) == ("2026-03-01", "24.60")
    assert (data["received_on"], data["amount"]) == ("2026-02-28", "12.30")

    # once more through storage: the values are still typed in the stored state
    case, _ = _row(runner, case_id)
    workflow = runner.commands.serializer.loads(case.state, loaded.spec, loaded.subprocess_specs)
    (done,) = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "Task_done"]
    assert type(done.data["next_day"]) is date and done.data["doubled"] == Decimal("24.60")
