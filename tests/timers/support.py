"""Helpers shared by the timer tests: inline diagrams, timer rows, events, the "not before, right after" step."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from common import make_actor

from engine import Engine, FakeClock
from engine.runtime.scheduler import TimerScheduler
from engine.store.models import Incident, Timer

STAFF = make_actor("wang", "petition_staff")
HEAD = make_actor("zhou", "petition_head")
ONE_SECOND = timedelta(seconds=1)


def definitions(*processes: str) -> str:
    """A BPMN file (no DI) holding the given <bpmn:process> elements."""
    body = "\n".join(processes)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="Definitions_timers" targetNamespace="http://xinfang.test/bpmn">
{body}
</bpmn:definitions>"""


def process(process_id: str, body: str, name: str = "定时器测试") -> str:
    return f'<bpmn:process id="{process_id}" name="{name}" isExecutable="true">\n{body}\n</bpmn:process>'


def deploy(engine: Engine, *processes: str) -> None:
    """Deploy the processes together, one file each (element ids need only be unique per file)."""
    engine.deploy({f"timers_{index}.bpmn": definitions(xml) for index, xml in enumerate(processes)}, by="test")


def at(text: str) -> datetime:
    instant = datetime.fromisoformat(text)
    assert instant.tzinfo is not None
    return instant


def timer_rows(engine: Engine, case_id: int | None = None) -> list[Timer]:
    with engine.db.read() as session:
        query = sa.select(Timer).order_by(Timer.id)
        if case_id is not None:
            query = query.where(Timer.case_id == case_id)
        return list(session.scalars(query))


def timer_row(engine: Engine, case_id: int) -> Timer:
    rows = timer_rows(engine, case_id)
    assert len(rows) == 1, rows
    return rows[0]


def incidents(engine: Engine) -> list[Incident]:
    with engine.db.read() as session:
        return list(session.scalars(sa.select(Incident).order_by(Incident.id)))


def kinds(engine: Engine, case_id: int) -> list[str]:
    return [event["kind"] for event in engine.case(case_id)["events"]]


def events(engine: Engine, case_id: int, kind: str) -> list[dict]:
    return [event for event in engine.case(case_id)["events"] if event["kind"] == kind]


def open_tasks(engine: Engine, case_id: int) -> list[str]:
    return sorted(item["bpmn_id"] for item in engine.work_items(case_id))


def fire_exactly_after(clock: FakeClock, scheduler: TimerScheduler, due: datetime, expected: int = 1) -> None:
    """At the due instant nothing fires; one second later the timer does (claim is strictly after due)."""
    assert clock.now() <= due, "the clock is already past the due time"
    clock.set(due)
    early = scheduler.tick()
    assert (early.claimed, early.fired) == (0, 0), f"fired at the due instant {due.isoformat()}"
    clock.advance(ONE_SECOND)
    result = scheduler.tick()
    assert (result.claimed, result.fired, result.failed) == (expected, expected, 0), result


def lease(scheduler: TimerScheduler, now: datetime) -> list[int]:
    """The ids of the timers `scheduler.claim` leased (it returns (timer id, case id, task id) rows)."""
    return [entry[0] if isinstance(entry, tuple) else entry for entry in scheduler.claim(now)]


def boundary_process(process_id: str, timer: str, cancel: bool) -> str:
    return process(process_id, f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_handle" />
    <bpmn:userTask id="Task_handle" name="办理" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_handle" targetRef="EndEvent_done" />
    <bpmn:endEvent id="EndEvent_done" />
    <bpmn:boundaryEvent id="Timer_overdue" name="办理超期" attachedToRef="Task_handle"
        cancelActivity="{'true' if cancel else 'false'}">
      <bpmn:timerEventDefinition>{timer}</bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Timer_overdue" targetRef="Task_followup" />
    <bpmn:userTask id="Task_followup" name="督办" camunda:candidateGroups="petition_head" />
    <bpmn:sequenceFlow id="Flow_4" sourceRef="Task_followup" targetRef="EndEvent_followed" />
    <bpmn:endEvent id="EndEvent_followed" />""")


def catch_process(process_id: str, timer: str) -> str:
    return process(process_id, f"""
    <bpmn:startEvent id="StartEvent_1" />
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Timer_wait" />
    <bpmn:intermediateCatchEvent id="Timer_wait" name="等待">
      <bpmn:timerEventDefinition>{timer}</bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Timer_wait" targetRef="Task_after" />
    <bpmn:userTask id="Task_after" name="后续办理" camunda:candidateGroups="petition_staff" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Task_after" targetRef="EndEvent_1" />
    <bpmn:endEvent id="EndEvent_1" />""")
