"""Incidents from raised to closed: retry, skip and resolve with a note by the process owner or an
administrator (the fixers, who are told of each new incident), and incidents that go stale — the task was
completed another way, the case ended — closing themselves in the command that made them so. Every
closing is an audit event."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from common import ROOT
from diagrams import process

from engine import Engine, Forbidden, IncidentRaised, NotFound
from engine.api import NoteMissing
from engine.org.organisation import load_organisation
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import Incident, Notice, Timer

DIVIDE = process("divide", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_a" />
    <bpmn:userTask id="Task_a" name="填写份数" camunda:candidateGroups="petition_staff">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="n" label="份数" type="long" />
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="F2" sourceRef="Task_a" targetRef="Script_share" />
    <bpmn:scriptTask id="Script_share" name="计算每份" scriptFormat="python"><bpmn:script>share = 10 / n</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Script_share" targetRef="Task_b" />
    <bpmn:userTask id="Task_b" name="复核" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_b" targetRef="End" />
    <bpmn:endEvent id="End" />""", name="分份计算")

# One branch fails; the other ends the whole case (terminate end event) while that incident is open.
TERMINATE = process("terminate", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Fork" />
    <bpmn:parallelGateway id="Fork" />
    <bpmn:sequenceFlow id="F2" sourceRef="Fork" targetRef="Task_a" />
    <bpmn:sequenceFlow id="F3" sourceRef="Fork" targetRef="Task_close" />
    <bpmn:userTask id="Task_a" name="登记" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_a" targetRef="Script_fail" />
    <bpmn:scriptTask id="Script_fail" name="出错的脚本" scriptFormat="python"><bpmn:script>x = 1 / 0</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="F5" sourceRef="Script_fail" targetRef="End_a" />
    <bpmn:endEvent id="End_a" />
    <bpmn:userTask id="Task_close" name="办结归档" camunda:candidateGroups="petition_head" />
    <bpmn:sequenceFlow id="F6" sourceRef="Task_close" targetRef="End_all" />
    <bpmn:endEvent id="End_all"><bpmn:terminateEventDefinition /></bpmn:endEvent>""", name="提前办结")

TIMED = process("timed_receipt", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Wait" />
    <bpmn:intermediateCatchEvent id="Wait" name="等待一小时">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Wait" targetRef="Service_receipt" />
    <bpmn:serviceTask id="Service_receipt" name="发送回执" camunda:type="external" camunda:topic="test.receipt" />
    <bpmn:sequenceFlow id="F3" sourceRef="Service_receipt" targetRef="Task_b" />
    <bpmn:userTask id="Task_b" name="复核" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="F4" sourceRef="Task_b" targetRef="End" />
    <bpmn:endEvent id="End" />""", name="定时回执")

# The reply arrives but what follows it fails; an hour later the boundary timer takes the other way.
REPLY = process("reply", """
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Receive_reply" />
    <bpmn:receiveTask id="Receive_reply" name="等待回复" messageRef="Message_reply" />
    <bpmn:boundaryEvent id="Reply_late" name="一小时未回复" attachedToRef="Receive_reply">
      <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="F2" sourceRef="Receive_reply" targetRef="Script_read" />
    <bpmn:scriptTask id="Script_read" name="读取回复" scriptFormat="python"><bpmn:script>x = 1 / 0</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="F3" sourceRef="Script_read" targetRef="End" />
    <bpmn:endEvent id="End" />
    <bpmn:sequenceFlow id="F4" sourceRef="Reply_late" targetRef="Task_chase" />
    <bpmn:userTask id="Task_chase" name="催问回复" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="F5" sourceRef="Task_chase" targetRef="End_chased" />
    <bpmn:endEvent id="End_chased" />""", name="等待回复").replace(
    "</bpmn:definitions>", '<bpmn:message id="Message_reply" name="reply_received" />\n</bpmn:definitions>')


class Receipts:
    """The handler of the service task: down until `fixed`."""

    def __init__(self) -> None:
        self.fixed = False

    def __call__(self, context):
        if not self.fixed:
            raise RuntimeError("回执系统不可用")
        return {"receipt_no": f"R-{context.case_id}"}


@pytest.fixture
def receipts() -> Receipts:
    return Receipts()


@pytest.fixture
def eng(database, clock, receipts) -> Engine:
    registry = HandlerRegistry()
    registry.register("test.receipt")(receipts)
    engine = Engine(database, clock, handlers=registry)
    with engine.db.write() as session:
        load_organisation(session, ROOT / "config" / "demo-organisation.toml")
    engine.deploy({"divide.bpmn": DIVIDE, "terminate.bpmn": TERMINATE, "timed.bpmn": TIMED, "reply.bpmn": REPLY},
                  by="owner_he")
    return engine


def _failed_share(eng: Engine) -> tuple[int, str, int]:
    """A case whose first task's completion failed: (case, task, incident)."""
    case_id = eng.start_case("divide", {}, eng.actor("xf_wang"))
    task_id = eng.find_task(case_id, "Task_a")
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(task_id, eng.actor("xf_wang"), {"n": "0"})
    return case_id, task_id, raised.value.incident_id


def _kinds(eng: Engine, case_id: int) -> list[str]:
    return [event["kind"] for event in eng.history(case_id)]


def _incident_notices(eng: Engine, step: str = "计算每份") -> list[tuple[str, int | None]]:
    with eng.db.read() as session:
        rows = session.execute(sa.select(Notice.username, Notice.case_id, Notice.text)
                               .where(Notice.kind == "incident").order_by(Notice.username)).all()
        assert all(text.startswith("案件 ") and f"“{step}”" in text for *_, text in rows)
        return [(name, case_id) for name, case_id, _ in rows]


def test_a_new_incident_is_listed_in_chinese_and_its_fixers_are_told(eng):
    case_id, _, incident_id = _failed_share(eng)
    (row,) = eng.incidents("open")
    assert (row["id"], row["case_id"], row["task_name"], row["bpmn_id"]) == (incident_id, case_id, "计算每份",
                                                                              "Script_share")
    assert row["message"].startswith("脚本或处理函数除数为零（ZeroDivisionError）")
    assert (row["submitted_by"], row["stage"], row["resolved_at"]) == ("王晓燕（信访室）", "分份计算", None)
    assert eng.incidents("closed") == []
    # every process owner and administrator of the organisation, nobody else; neither may read the case,
    # so their notice names its id and links nowhere
    assert _incident_notices(eng) == [("admin", None), ("owner_he", None)]


def test_a_resubmission_failing_again_is_the_same_incident_and_one_that_succeeds_makes_it_stale(eng, clock):
    case_id, task_id, incident_id = _failed_share(eng)
    with pytest.raises(IncidentRaised) as again:
        eng.complete(task_id, eng.actor("xf_wang"), {"n": "0"})
    assert again.value.incident_id == incident_id
    (incident,) = eng.case(case_id)["incidents"]
    assert incident["attempts"] == 2
    assert len(_incident_notices(eng)) == 2  # told once, not per attempt

    clock.advance(minutes=5)
    eng.complete(task_id, eng.actor("xf_wang"), {"n": "5"})  # the staff member corrects the input
    case = eng.case(case_id)
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    (incident,) = case["incidents"]
    assert (incident["resolution"], incident["resolved_by"], incident["resolved_at"]) == (
        "stale", "xf_wang", clock.now().isoformat())
    assert "已经办理" in incident["note"]
    assert _kinds(eng, case_id) == ["start", "incident", "incident", "complete", "stale"]
    assert case["events"][-1]["payload"] == {"incident_id": incident_id, "reason": incident["note"]}
    assert eng.incidents("open") == []
    assert [row["resolution_label"] for row in eng.incidents("closed")] == ["已失效，自动关闭"]
    assert eng.verify_audit().ok


def test_the_process_owner_retries_once_the_cause_is_fixed(eng, clock, receipts):
    case_id = eng.start_case("timed_receipt", {}, eng.actor("xf_wang"))
    clock.advance(hours=1, seconds=1)
    assert eng.scheduler(owner="A").tick().failed == 1
    (incident,) = eng.incidents("open")
    assert [name for name, _ in _incident_notices(eng, "发送回执")] == ["admin", "owner_he"]  # no submitter to tell
    with pytest.raises(Forbidden):  # the scheduler's incident is not a staff member's to re-run
        eng.retry(incident["id"], eng.actor("xf_wang"))
    receipts.fixed = True
    assert eng.retry(incident["id"], eng.actor("owner_he")) == "retry"
    case = eng.case(case_id)
    assert case["data"]["receipt_no"] == f"R-{case_id}"
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    assert (case["incidents"][0]["resolution"], case["incidents"][0]["resolved_by"]) == ("retry", "owner_he")
    assert _kinds(eng, case_id) == ["start", "incident", "timer_fired", "retry"]
    assert eng.history(case_id)[-1]["actor"] == "owner_he"


def test_an_administrator_skips_the_failing_step(eng):
    case_id, _, incident_id = _failed_share(eng)
    assert eng.skip(incident_id, eng.actor("admin")) == "skip"
    case = eng.case(case_id)
    assert [item["bpmn_id"] for item in case["work_items"]] == ["Task_b"]
    assert "share" not in case["data"]
    assert (case["incidents"][0]["resolution"], case["incidents"][0]["resolved_by"]) == ("skip", "admin")
    assert case["events"][-1]["payload"] == {"incident_id": incident_id, "skipped": ["Script_share"]}


def test_resolving_by_hand_needs_a_fixer_and_a_note_and_leaves_the_case_as_it_is(eng, clock):
    case_id, task_id, incident_id = _failed_share(eng)
    before = eng.case(case_id)
    with pytest.raises(Forbidden):
        eng.resolve_incident(incident_id, eng.actor("xf_chen"), "已处理")  # the office head re-runs, not closes
    with pytest.raises(NoteMissing) as missing:
        eng.resolve_incident(incident_id, eng.actor("owner_he"), "  ")
    assert "处理说明" in missing.value.message
    assert eng.case(case_id)["incidents"][0]["resolved_at"] is None

    clock.advance(minutes=3)
    eng.resolve_incident(incident_id, eng.actor("owner_he"), " 已电话告知王晓燕：份数不能为 0，请更正后重新提交 ")
    case = eng.case(case_id)
    (incident,) = case["incidents"]
    assert (incident["resolution"], incident["resolved_by"], incident["note"]) == (
        "resolve", "owner_he", "已电话告知王晓燕：份数不能为 0，请更正后重新提交")
    assert (case["version"], case["work_items"]) == (before["version"], before["work_items"])
    last = case["events"][-1]
    assert (last["kind"], last["actor"], last["bpmn_id"]) == ("resolve", "owner_he", "Script_share")
    assert last["payload"] == {"incident_id": incident_id, "note": incident["note"]}
    with pytest.raises(NotFound):  # closed is closed
        eng.resolve_incident(incident_id, eng.actor("admin"), "再次关闭")
    with pytest.raises(NotFound):
        eng.retry(incident_id, eng.actor("admin"))
    eng.complete(task_id, eng.actor("xf_wang"), {"n": "2"})  # the task is still there to be done
    assert eng.case(case_id)["data"]["share"] == 5


def test_resolving_a_timer_incident_lets_the_scheduler_fire_it_again(eng, clock, receipts):
    case_id = eng.start_case("timed_receipt", {}, eng.actor("xf_wang"))
    clock.advance(hours=1, seconds=1)
    scheduler = eng.scheduler(owner="A")
    scheduler.tick()
    (incident,) = eng.incidents("open")
    receipts.fixed = True
    clock.advance(minutes=1)
    assert scheduler.tick().claimed == 0  # parked under the incident
    eng.resolve_incident(incident["id"], eng.actor("admin"), "回执系统已恢复，交定时器重新触发")
    with eng.db.read() as session:
        assert session.scalars(sa.select(Timer.lease_owner).where(Timer.case_id == case_id)).all() == [None]
    assert scheduler.tick().fired == 1
    assert [item["bpmn_id"] for item in eng.work_items(case_id)] == ["Task_b"]
    assert _kinds(eng, case_id) == ["start", "incident", "resolve", "timer_fired"]


def test_a_case_that_ends_closes_its_open_incidents(eng):
    wang, head = eng.actor("xf_wang"), eng.actor("xf_chen")
    case_id = eng.start_case("terminate", {}, wang)
    with pytest.raises(IncidentRaised) as raised:
        eng.complete(eng.find_task(case_id, "Task_a"), wang)
    eng.complete(eng.find_task(case_id, "Task_close"), head)
    case = eng.case(case_id)
    assert case["status"] == "completed"
    (incident,) = case["incidents"]
    assert (incident["id"], incident["resolution"], incident["resolved_by"]) == (raised.value.incident_id, "stale",
                                                                               "xf_chen")
    assert incident["note"] == "案件已办结，该异常不再适用"
    assert _kinds(eng, case_id)[-2:] == ["complete", "stale"]


def test_a_message_whose_event_no_longer_waits_closes_its_incident(eng, clock):
    case_id = eng.start_case("reply", {}, eng.actor("xf_wang"), business_key="R-1")
    with pytest.raises(IncidentRaised) as raised:
        eng.correlate("reply_received", {"businessKey": "R-1"}, {"reply": "已收到"}, eng.actor("xf_wang"))
    clock.advance(hours=1, seconds=1)
    assert eng.scheduler(owner="A").tick().fired == 1  # the boundary timer cancels the wait
    case = eng.case(case_id)
    assert (case["status"], [item["bpmn_id"] for item in case["work_items"]]) == ("running", ["Task_chase"])
    (incident,) = case["incidents"]
    assert (incident["id"], incident["resolution"], incident["resolved_by"]) == (raised.value.incident_id, "stale",
                                                                               "scheduler")
    assert "不再等待该消息" in incident["note"]


def test_retry_of_an_incident_left_open_by_an_older_version_closes_it_as_stale(eng, clock):
    """Before stale incidents closed themselves, a task completed another way left its incident open, and
    retry and skip were refused; now they close it."""
    case_id, task_id, incident_id = _failed_share(eng)
    eng.complete(task_id, eng.actor("xf_wang"), {"n": "5"})
    with eng.db.write() as session:  # as an older version left it
        session.execute(sa.update(Incident).values(resolved_at=None, resolution=None, resolved_by=None, note=None))
    clock.advance(minutes=1)
    for resolve in (eng.skip, eng.retry):
        assert resolve(incident_id, eng.actor("owner_he")) == "stale"
        (incident,) = eng.case(case_id)["incidents"]
        assert (incident["resolution"], incident["resolved_by"]) == ("stale", "owner_he")
        with eng.db.write() as session:
            session.execute(sa.update(Incident).values(resolved_at=None))
    assert [item["bpmn_id"] for item in eng.work_items(case_id)] == ["Task_b"]  # nothing re-ran
    assert eng.case(case_id)["version"] == 2


def test_an_incident_list_state_must_be_open_or_closed(eng):
    with pytest.raises(ValueError):
        eng.incidents("all")

