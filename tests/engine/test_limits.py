"""Limits (deadlines, counts) are process properties, read in expressions as `limits.name`."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa
from common import make_actor
from diagrams import process

from engine import Engine
from engine.runtime.handlers_registry import HandlerRegistry
from engine.store.models import WorkItem

BODY = """
    <bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="answer_workdays" value="{workdays}" />
        <camunda:property name="reminder_workdays_before" value="1" />
        <camunda:property name="label" value="答复" />
      </camunda:properties>
    </bpmn:extensionElements>
    <bpmn:startEvent id="StartEvent"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Task_due" name="计算期限" scriptFormat="python">
      <bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:script>answer_due = workdays(limits.answer_workdays)
remind_on = workdays_before(limits.reminder_workdays_before, answer_due)
title = limits.label</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="Task_answer" name="答复" camunda:candidateGroups="petition_staff"
                   camunda:dueDate="${{answer_due}}" camunda:followUpDate="${{{follow_up}}}">
      <bpmn:incoming>F2</bpmn:incoming><bpmn:outgoing>F3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="EndEvent"><bpmn:incoming>F3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="StartEvent" targetRef="Task_due" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_due" targetRef="Task_answer" />
    <bpmn:sequenceFlow id="F3" sourceRef="Task_answer" targetRef="EndEvent" />
"""


def diagram(workdays: str = "3", follow_up: str = "remind_on") -> dict[str, str]:
    return {"limits.bpmn": process("limits", BODY.format(workdays=workdays, follow_up=follow_up))}


@pytest.fixture
def eng(database, clock) -> Engine:
    return Engine(database, clock, handlers=HandlerRegistry())


def test_limits_come_from_the_process_properties(eng, clock):
    clock.set(datetime.fromisoformat("2026-03-06T15:00:00+08:00"))  # Friday
    eng.deploy(diagram(workdays="5"), by="owner")
    staff = make_actor("wang", "petition_staff", department="petition_office")
    case_id = eng.start_case("limits", {}, staff)
    assert eng.case(case_id)["data"]["title"] == "答复"
    with eng.db.read() as session:
        row = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id)).one()
    assert row.due_at == datetime.fromisoformat("2026-03-14T00:00:00+08:00")  # Mon 9 … Fri 13
    assert row.remind_at == datetime.fromisoformat("2026-03-13T00:00:00+08:00")  # one working day before


def test_an_undeclared_limit_is_refused_at_validation(eng):
    problems = eng.validate(diagram(follow_up="workdays(limits.follow_up_workdays)"))
    assert [p.message for p in problems] == [
        "流程 limits 的属性中没有配置 follow_up_workdays（limits.follow_up_workdays）"]


def test_limits_cannot_be_assigned_by_a_script(eng):
    text = diagram()["limits.bpmn"].replace("title = limits.label", "limits = 3")
    problems = eng.validate({"limits.bpmn": text})
    assert any("limits" in p.message and "赋值" in p.message for p in problems)
