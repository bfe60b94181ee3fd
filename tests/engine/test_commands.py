"""Commands: claim, unclaim, reassign, complete with server-side form validation, and what a failing script
or handler does — an incident, the case untouched, then retry or skip."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import files, process

from engine import Conflict, Engine, Forbidden, FormErrors, IncidentRaised, NotFound
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Case, Event, Incident, WorkItem

WANG = make_actor("wang", "petition_staff", department="petition_office")
ZHAO = make_actor("zhao", "petition_staff", department="petition_office")
LEADER = make_actor("li", "leader_in_charge")
HEAD = make_actor("chen", "petition_head", department="petition_office")


@pytest.fixture
def registry() -> HandlerRegistry:
    return HandlerRegistry()


@pytest.fixture
def eng(database, clock, registry) -> Engine:
    registry.register("test.receipt")(_failing_handler)
    engine = Engine(database, clock, handlers=registry)
    engine.deploy(files("chain.bpmn", "routing.bpmn", "script_fail.bpmn", "service.bpmn"), by="owner")
    return engine


def _failing_handler(context):
    raise RuntimeError("回执系统不可用")


def _snapshot(eng: Engine, case_id: int) -> dict:
    """Everything a command may change, read straight from the tables."""
    with eng.db.read() as session:
        case = session.get(Case, case_id)
        items = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id))
        events = session.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.id))
        return {
            "state": case.state, "version": case.version, "status": case.status, "data": case.data,
            "items": [(i.task_id, i.bpmn_id, i.assignee, i.due_at) for i in items],
            "events": [(e.id, e.kind, e.hash) for e in events],
        }


def _chain_case(eng: Engine) -> tuple[int, str]:
    case_id = eng.start_case("chain", {}, WANG)
    return case_id, eng.find_task(case_id, "Task_a")


# ---- claim, unclaim, reassign -----------------------------------------------------------------------


def test_claim_unclaim_and_claim_again(eng):
    case_id, task_id = _chain_case(eng)
    eng.claim(task_id, WANG)
    assert eng.work_items(case_id)[0]["assignee"] == "wang"
    eng.claim(task_id, WANG)  # claiming one's own task again changes nothing
    eng.unclaim(task_id, WANG)
    assert eng.work_items(case_id)[0]["assignee"] is None
    eng.claim(task_id, ZHAO)
    assert eng.work_items(case_id)[0]["assignee"] == "zhao"
    kinds = [(e["kind"], e["actor"], e["payload"]) for e in eng.history(case_id)]
    assert kinds == [("start", "wang", kinds[0][2]), ("claim", "wang", {"assignee": "wang"}),
                     ("unclaim", "wang", {"previous": "wang"}), ("claim", "zhao", {"assignee": "zhao"})]


def test_second_claim_is_a_conflict(eng):
    case_id, task_id = _chain_case(eng)
    eng.claim(task_id, WANG)
    before = _snapshot(eng, case_id)
    with pytest.raises(Conflict) as conflict:
        eng.claim(task_id, ZHAO)
    assert "wang" in conflict.value.message
    assert _snapshot(eng, case_id) == before


def test_claim_by_non_candidate_is_forbidden(eng):
    case_id, task_id = _chain_case(eng)
    with pytest.raises(Forbidden):
        eng.claim(task_id, LEADER)
    assert eng.work_items(case_id)[0]["assignee"] is None


def test_only_the_assignee_or_the_head_may_unclaim(eng):
    case_id, task_id = _chain_case(eng)
    eng.claim(task_id, WANG)
    with pytest.raises(Forbidden):
        eng.unclaim(task_id, ZHAO)
    assert eng.work_items(case_id)[0]["assignee"] == "wang"
    eng.unclaim(task_id, HEAD)
    assert eng.work_items(case_id)[0]["assignee"] is None


def _handle_item(eng: Engine, department: str = "dept_b") -> tuple[int, str]:
    case_id = eng.start_case("routing", {"a": True, "b": False}, WANG)
    eng.complete(eng.find_task(case_id, "Task_choose"), WANG,
                 {"handling_department": department, "officer": "nobody", "urgency": "1"})
    return case_id, eng.find_task(case_id, "Task_handle")


def test_reassign_to_an_eligible_colleague(eng):
    case_id, task_id = _handle_item(eng)
    sun = make_actor("sun", "handling_staff", department="dept_b")
    zhou = make_actor("zhou", "handling_staff", department="dept_b")
    eng.claim(task_id, sun)
    eng.reassign(task_id, sun, zhou, "出差一周")
    assert eng.work_items(case_id)[0]["assignee"] == "zhou"
    assert eng.history(case_id)[-1]["payload"] == {"previous": "sun", "assignee": "zhou", "reason": "出差一周"}
    with pytest.raises(Forbidden):  # sun no longer holds it
        eng.reassign(task_id, sun, sun, "出差")
    eng.complete(task_id, zhou)
    assert eng.case(case_id)["status"] == "completed"


@pytest.mark.parametrize("target", [
    make_actor("qian", "handling_staff", department="dept_a"),  # right role, wrong department
    make_actor("wu", "petition_staff", department="dept_b"),  # right department, wrong role
    make_actor("zheng", department="dept_b"),  # no role at all
])
def test_reassign_to_someone_ineligible_is_forbidden(eng, target):
    case_id, task_id = _handle_item(eng)
    sun = make_actor("sun", "handling_staff", department="dept_b")
    eng.claim(task_id, sun)
    before = _snapshot(eng, case_id)
    with pytest.raises(Forbidden) as refused:
        eng.reassign(task_id, sun, target, "出差")
    assert target.name in refused.value.message
    assert _snapshot(eng, case_id) == before
    with pytest.raises(Forbidden):  # and the head cannot do it either
        eng.reassign(task_id, HEAD, target, "调整分工")


def test_claim_outside_the_department_is_forbidden(eng):
    _, task_id = _handle_item(eng, "dept_b")
    with pytest.raises(Forbidden):
        eng.claim(task_id, make_actor("qian", "handling_staff", department="dept_a"))
    eng.claim(task_id, make_actor("sun", "handling_staff", department="dept_b"))


def test_candidate_user_may_claim_outside_the_role(eng):
    case_id = eng.start_case("routing", {"a": True, "b": False}, WANG)
    eng.complete(eng.find_task(case_id, "Task_choose"), WANG,
                 {"handling_department": "dept_b", "officer": "li", "urgency": "1"})
    eng.claim(eng.find_task(case_id, "Task_handle"), LEADER)  # li is named in candidateUsers
    assert eng.work_items(case_id)[0]["assignee"] == "li"


# ---- complete -------------------------------------------------------------------------------------


BAD_SUBMISSIONS = [
    ({}, {"title": "此项为必填项"}),
    ({"title": "甲"}, {"title": "不能少于 2 个字符"}),
    ({"title": "一二三四五六七八九十十一"}, {"title": "不能超过 10 个字符"}),
    ({"title": "标题", "count": "三"}, {"count": "应为整数"}),
    ({"title": "标题", "count": "0"}, {"count": "不能小于 1"}),
    ({"title": "标题", "count": 6}, {"count": "不能大于 5"}),
    ({"title": "标题", "kind": "email"}, {"kind": "请从可选项中选择"}),
    ({"title": "标题", "received_on": "03/02/2026"}, {"received_on": "应为日期（YYYY-MM-DD）"}),
    ({"title": "标题", "approved": True}, {"approved": "表单中没有此字段"}),
    ({"title": 42, "count": "x", "kind": "y"}, {"title": "应为文本", "count": "应为整数", "kind": "请从可选项中选择"}),
]


@pytest.mark.parametrize(("submitted", "errors"), BAD_SUBMISSIONS)
def test_form_errors_change_nothing(eng, submitted, errors):
    case_id, task_id = _chain_case(eng)
    eng.claim(task_id, WANG)
    before = _snapshot(eng, case_id)
    with pytest.raises(FormErrors) as refused:
        eng.complete(task_id, WANG, submitted)
    assert refused.value.errors == errors
    assert _snapshot(eng, case_id) == before
    eng.complete(task_id, WANG, {"title": "标题", "count": "5", "kind": "visit", "received_on": "2026-03-01"})
    assert eng.case(case_id)["data"]["count"] == 5


def test_complete_a_task_someone_else_claimed_is_forbidden(eng):
    case_id, task_id = _chain_case(eng)
    eng.claim(task_id, ZHAO)
    before = _snapshot(eng, case_id)
    with pytest.raises(Forbidden) as refused:
        eng.complete(task_id, WANG, {"title": "标题"})
    assert "zhao" in refused.value.message
    assert _snapshot(eng, case_id) == before


def test_complete_by_non_candidate_is_forbidden(eng):
    case_id, task_id = _chain_case(eng)
    before = _snapshot(eng, case_id)
    with pytest.raises(Forbidden):
        eng.complete(task_id, LEADER, {"title": "标题"})
    assert _snapshot(eng, case_id) == before


def test_completing_a_completed_task_names_who_did_it(eng, clock):
    case_id, task_id = _chain_case(eng)
    clock.advance(minutes=7)
    eng.complete(task_id, WANG, {"title": "标题"})
    before = _snapshot(eng, case_id)
    for actor in (ZHAO, WANG):
        with pytest.raises(Conflict) as conflict:
            eng.complete(task_id, actor, {"title": "另一个标题"})
        assert "已由 wang" in conflict.value.message
        assert "2026-03-02 09:07" in conflict.value.message  # Shanghai time of the completion
    with pytest.raises(Conflict) as conflict:
        eng.claim(task_id, ZHAO)
    assert "已由 wang" in conflict.value.message
    assert _snapshot(eng, case_id) == before


def test_unknown_task_is_a_conflict_and_unknown_incident_not_found(eng):
    with pytest.raises(Conflict):
        eng.complete("00000000-0000-0000-0000-000000000000", WANG, {})
    with pytest.raises(NotFound):
        eng.retry(999, WANG)


# ---- incidents ------------------------------------------------------------------------------------


def test_script_error_leaves_the_case_untouched_and_records_an_incident(eng, clock):
    case_id = eng.start_case("script_fail", {}, WANG)
    task_id = eng.find_task(case_id, "Task_a")
    before = _snapshot(eng, case_id)
    clock.advance(minutes=1)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(task_id, WANG, {"n": "4"})
    after = _snapshot(eng, case_id)
    assert {k: after[k] for k in ("state", "version", "status", "data", "items")} == {
        k: before[k] for k in ("state", "version", "status", "data", "items")}
    assert after["events"][:-1] == before["events"]
    assert after["events"][-1][1] == "incident" and len(after["events"]) == len(before["events"]) + 1

    case = eng.case(case_id)
    (incident,) = case["incidents"]
    assert incident["id"] == raised.value.incident_id and raised.value.case_id == case_id
    assert (incident["bpmn_id"], incident["task_name"], incident["error_type"], incident["line"]) == (
        "Script_calc", "计算", "ZeroDivisionError", 2)
    assert incident["source_line"] == "ratio = n / 0"
    assert "division by zero" in incident["message"]
    assert (incident["attempts"], incident["resolved_at"]) == (1, None)
    event = case["events"][-1]
    assert (event["kind"], event["bpmn_id"], event["actor"]) == ("incident", "Script_calc", "wang")
    assert event["payload"]["incident_id"] == incident["id"]
    assert event["payload"]["error_type"] == "ZeroDivisionError" and event["payload"]["line"] == 2

    # nothing fixed: retry fails again, on the same incident
    with pytest.raises(IncidentRaised) as again:
        eng.retry(incident["id"], WANG)
    assert again.value.incident_id == incident["id"]
    (incident,) = eng.case(case_id)["incidents"]
    assert incident["attempts"] == 2 and incident["resolved_at"] is None
    retried = _snapshot(eng, case_id)
    assert (retried["state"], retried["version"], retried["items"]) == (before["state"], before["version"],
                                                                       before["items"])
    assert [e[1] for e in retried["events"]] == ["start", "incident", "incident"]

    # skip: the script task completes without running, the case moves on
    clock.advance(minutes=1)
    eng.skip(incident["id"], WANG)
    case = eng.case(case_id)
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    assert case["data"] == {"n": 4}  # neither line of the script ran
    assert case["version"] == before["version"] + 1
    (incident,) = case["incidents"]
    assert (incident["resolution"], incident["resolved_by"], incident["resolved_at"]) == (
        "skip", "wang", clock.now().isoformat())
    assert [e["kind"] for e in case["events"]] == ["start", "incident", "incident", "complete", "skip"]
    assert case["events"][-2]["actor"] == "wang" and case["events"][-2]["payload"]["data"] == {"n": 4}
    assert case["events"][-1]["payload"] == {"incident_id": incident["id"], "skipped": ["Script_calc"]}
    with pytest.raises(NotFound):  # resolved incidents cannot be resolved again
        eng.retry(incident["id"], WANG)
    eng.complete(eng.find_task(case_id, "Task_b"), WANG)
    assert eng.case(case_id)["status"] == "completed"
    assert eng.verify_audit().ok


def test_handler_failure_then_fixed_handler_and_retry(eng, database, clock):
    case_id = eng.start_case("service", {}, WANG)
    task_id = eng.find_task(case_id, "Task_a")
    before = _snapshot(eng, case_id)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(task_id, WANG, {"title": "标题"})
    after = _snapshot(eng, case_id)
    assert (after["state"], after["version"], after["items"]) == (before["state"], before["version"], before["items"])
    (incident,) = eng.case(case_id)["incidents"]
    assert (incident["bpmn_id"], incident["error_type"]) == ("Service_call", "RuntimeError")
    assert "回执系统不可用" in incident["message"]

    fixed = HandlerRegistry()
    seen = []

    @fixed.register("test.receipt")
    def receipt(context):
        seen.append(context)
        return {"receipt_no": f"R-{context.case_id}"}

    repaired = Engine(database, clock, handlers=fixed)
    clock.advance(hours=1)
    repaired.retry(raised.value.incident_id, WANG)
    case = repaired.case(case_id)
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    assert case["data"] == {"title": "标题", "receipt_no": f"R-{case_id}"}
    (incident,) = case["incidents"]
    assert (incident["resolution"], incident["resolved_by"], incident["attempts"]) == ("retry", "wang", 1)
    assert [e["kind"] for e in case["events"]] == ["start", "incident", "complete", "retry"]
    complete = case["events"][2]
    # the retried command is the original completion, with the data submitted the first time
    assert (complete["bpmn_id"], complete["actor"], complete["payload"]["data"]) == ("Task_a", "wang",
                                                                                    {"title": "标题"})
    assert complete["payload"]["delta"] == {"changed": {"title": "标题", "receipt_no": f"R-{case_id}"}}
    assert [(c.case_id, c.actor) for c in seen] == [(case_id, "wang")]
    with database.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Incident)) == 1


def test_skip_of_a_failing_handler(eng):
    case_id = eng.start_case("service", {}, WANG)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(eng.find_task(case_id, "Task_a"), WANG, {"title": "标题"})
    eng.skip(raised.value.incident_id, WANG)
    case = eng.case(case_id)
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    assert "receipt_no" not in case["data"]
    assert case["events"][-1]["kind"] == "skip"


def test_skips_accumulate_across_two_failing_scripts_in_a_row(database, clock):
    """Skipping the first failure runs into a second one; skipping that too moves the case on, because the
    incident keeps the skips made so far."""
    eng = Engine(database, clock)
    eng.deploy({"two.bpmn": process("two_failures", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_a" />
    <bpmn:userTask id="Task_a" name="登记" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_a" targetRef="Script_one" />
    <bpmn:scriptTask id="Script_one" name="第一步" scriptFormat="python"><bpmn:script>a = 1 / 0</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Script_one" targetRef="Script_two" />
    <bpmn:scriptTask id="Script_two" name="第二步" scriptFormat="python"><bpmn:script>b = [][1]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="F4" sourceRef="Script_two" targetRef="Task_b" />
    <bpmn:userTask id="Task_b" name="复核" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="F5" sourceRef="Task_b" targetRef="End" />
    <bpmn:endEvent id="End" />""")}, by="owner")
    case_id = eng.start_case("two_failures", {}, WANG)
    with pytest.raises(IncidentRaised) as first:
        eng.complete(eng.find_task(case_id, "Task_a"), WANG)
    with pytest.raises(IncidentRaised) as second:
        eng.skip(first.value.incident_id, HEAD)
    assert second.value.incident_id == first.value.incident_id
    (incident,) = eng.case(case_id)["incidents"]
    assert incident["bpmn_id"] == "Script_two" and incident["error_type"] == "IndexError"
    eng.skip(first.value.incident_id, HEAD)
    case = eng.case(case_id)
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    complete, skip = case["events"][-2:]
    assert (complete["kind"], complete["actor"]) == ("complete", "wang")  # re-run as the original submitter
    assert (skip["kind"], skip["actor"], skip["payload"]["skipped"]) == ("skip", "chen", ["Script_one", "Script_two"])


def test_only_the_submitter_or_the_head_may_resolve_an_incident(eng):
    case_id = eng.start_case("script_fail", {}, WANG)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(eng.find_task(case_id, "Task_a"), WANG, {"n": "4"})
    with pytest.raises(Forbidden):
        eng.retry(raised.value.incident_id, ZHAO)
    eng.skip(raised.value.incident_id, HEAD)
    assert [item["bpmn_id"] for item in eng.case(case_id)["work_items"]] == ["Task_b"]
