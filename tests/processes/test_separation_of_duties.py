"""Separation of duties as the diagram states it (`not_by`, `not_by_leaders`): the investigator and his
own department leader cannot take the joint review of his report, nor the investigator the sign-off of
it; the one conflict check refuses claim, completion, reassignment and diagram-given assignment, and
the queues and counts do not offer such a task to them. Bad references are refused at deploy."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from chain import Chain, seed_staff

from engine import Forbidden, ValidationFailed
from engine.api import QueueQuery
from engine.org.organisation import apply_organisation
from engine.runtime.recusal import SEPARATED
from engine.store.models import User

LIU = {"name": "s1_liu", "display_name": "刘敏（第一监督检查室）", "department": "supervision_1"}
SUN = {"name": "s1_sun", "display_name": "孙主任（第一监督检查室分管领导）", "department": "supervision_1"}


@pytest.fixture
def chain(engine, clock) -> Chain:
    seed_staff(engine)
    return Chain(engine, clock)


def _roles(engine, entry: dict, *roles: str) -> None:
    with engine.db.write() as session:
        apply_organisation(session, {"users": [{**entry, "roles": list(roles)}]})
        session.execute(sa.update(User).values(must_change_password=False))


def _at_joint_review(chain: Chain) -> str:
    chain.start(real_name="false")
    chain.accept()
    chain.sign_off()
    chain.handle()
    return chain.engine.find_task(chain.case_id, "Task_review_supervision")


def _offered(engine, name: str, task_id: str) -> bool:
    return task_id in {item["task_id"] for item in engine.queue(engine.actor(name), QueueQuery(view="groups"))}


def _refused_everywhere(chain: Chain, name: str, task_id: str) -> None:
    engine = chain.engine
    person = engine.actor(name)
    assert not _offered(engine, name, task_id)
    with pytest.raises(Forbidden) as refused:
        engine.claim(task_id, person)
    assert refused.value.message == SEPARATED
    with pytest.raises(Forbidden, match=SEPARATED):
        engine.complete(task_id, person, {})
    page = engine.staff.task_page(task_id, person)
    assert not page["may_work"] and page["refusal"] == SEPARATED


@pytest.mark.parametrize("who", ["investigator", "his department leader"])
def test_the_investigator_and_his_leader_cannot_take_the_joint_review(chain, who):
    engine = chain.engine
    if who == "his department leader":
        _roles(engine, SUN, "handling_leader", "supervision_office")
    name = "s1_liu" if who == "investigator" else "s1_sun"
    task_id = _at_joint_review(chain)
    groups_before = engine.queue_counts(engine.actor(name))["groups"]
    _refused_everywhere(chain, name, task_id)
    assert engine.queue_counts(engine.actor(name))["groups"] == groups_before  # the count left it out too
    # a colleague of the same office takes it; he cannot hand it to the excluded person
    he = engine.actor("s1_he")
    assert _offered(engine, "s1_he", task_id)
    engine.claim(task_id, he)
    assert name not in {c["name"] for c in engine.staff.colleagues(task_id, he)}
    with pytest.raises(Forbidden, match="不能转交"):
        engine.reassign(task_id, he, engine.actor(name), "出差")
    chain.do("Task_review_supervision", by="s1_he")


def test_an_investigator_who_is_also_a_department_leader_cannot_sign_his_own_report(chain):
    engine = chain.engine
    _roles(engine, LIU, "handling_staff", "supervision_office", "handling_leader")
    chain.start(real_name="false")
    chain.accept()
    chain.sign_off()
    chain.do("Task_investigate")
    task_id = engine.find_task(chain.case_id, "Task_department_sign")
    _refused_everywhere(chain, "s1_liu", task_id)
    assert _offered(engine, "s1_sun", task_id)
    chain.do("Task_department_sign", by="s1_sun")


DUTY_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://example.com/xinfang">
  <bpmn:process id="duty" isExecutable="true">
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="f1" sourceRef="StartEvent_1" targetRef="Task_a" />
    <bpmn:userTask id="Task_a" name="甲" camunda:candidateGroups="handling_staff" />
    <bpmn:sequenceFlow id="f2" sourceRef="Task_a" targetRef="Task_b" />
    <bpmn:userTask id="Task_b" name="乙" camunda:candidateGroups="handling_staff" camunda:assignee="{assignee}">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="{name}" value="{value}" />
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="Task_b" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />
  </bpmn:process>
</bpmn:definitions>
"""


def _duty(assignee: str = "s1_liu", name: str = "not_by", value: str = "Task_a") -> str:
    return DUTY_DIAGRAM.format(assignee=assignee, name=name, value=value)


def test_a_diagram_given_assignee_who_did_the_earlier_task_does_not_get_it(chain):
    engine = chain.engine
    engine.deploy({"duty.bpmn": _duty()}, by="owner")
    case_id = engine.start_case("duty", {}, engine.actor("xf_wang"))
    engine.complete(engine.find_task(case_id, "Task_a"), engine.actor("s1_liu"), {})
    item = next(i for i in engine.work_items(case_id) if i["bpmn_id"] == "Task_b")
    assert item["assignee"] is None
    history = engine.history(case_id)
    assert history[-1]["kind"] == "complete"
    assert history[-1]["payload"]["recused_assignees"] == ["s1_liu"]
    assert history[-1]["payload"]["to_pool"] == [{"task": "乙", "person": "s1_liu", "why": "原办理人对该任务应当回避"}]


@pytest.mark.parametrize(("name", "value", "message"), [
    ("not_by", "Task_nowhere", "“Task_nowhere”不是本次部署的流程中的用户任务（属性 not_by，需要一起部署）"),
    ("assignee_from", "Task_gone", "“Task_gone”不是本次部署的流程中的用户任务（属性 assignee_from，需要一起部署）"),
    ("not_by_leaders", "chief", "角色“chief”不存在（属性 not_by_leaders）"),
    ("not_by_leaders", "handling_leader", "属性 not_by_leaders 需要同时指定 not_by"),
])
def test_bad_assignment_properties_are_refused_at_deploy(chain, name, value, message):
    with pytest.raises(ValidationFailed) as refused:
        chain.engine.deploy({"duty.bpmn": _duty(name=name, value=value)}, by="owner")
    assert message in str(refused.value)

