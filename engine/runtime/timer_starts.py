"""Timer start events: cases created on a schedule (`timeDate`, ISO cycles `R3/…`, `R/…`, Quartz cron as
Camunda writes it), each occurrence exactly once however many scheduler processes run.

A deployment whose process starts with a timer has one *scheduled* case per timer start event: a case
(status `scheduled`) whose workflow waits at that start event, with an ordinary row in the timer table.
The scheduler fires it like any timer — atomic lease, the case's own transaction (engine/runtime/
scheduler.py) — and the case starts; in the same transaction a cycle with occurrences left gets the next
scheduled case, waiting for the next occurrence. Each occurrence is thus one case, and a firing that rolls
back schedules nothing. Deploying a new version replaces the older versions' scheduled cases (as Camunda
replaces their timer jobs). Occurrences of an ISO cycle already past at scheduling are skipped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import EngineError
from engine.store.models import Case, Timer
from engine.timing.cron import looks_like_cron

SCHEDULED = "scheduled"
SUPERSEDED = "superseded"


class ScheduleFailed(EngineError):
    """The deployment stands, but a timer start event's time could not be worked out (nothing scheduled)."""

    def __init__(self, process_id: str, bpmn_id: str, reason: str) -> None:
        super().__init__(f"流程 {process_id} 已部署，但定时启动事件“{bpmn_id}”的时间无法确定，未安排启动：{reason}")


def timer_start_events(spec) -> list:
    """The process's own start events that wait for a timer."""
    return [event for event in spec.bpmn_start_events if isinstance(event.event_definition, TimerEventDefinition)]


def is_timer_start(task: Task) -> bool:
    return task.workflow is task.workflow.top_workflow and task.task_spec in timer_start_events(task.workflow.spec)


def scheduled_starts(session: Session, deployment_id: int) -> set[str]:
    """The timer start events of the deployment that have a scheduled case waiting."""
    return set(session.scalars(sa.select(Timer.bpmn_id).join(Case, Case.id == Timer.case_id).where(
        Case.deployment_id == deployment_id, Case.status == SCHEDULED)))


def supersede(session: Session, process_id: str, deployment_id: int, now: datetime) -> list[int]:
    """Retire the scheduled cases of the process's other deployments: their timers go, the cases stay as
    history with status `superseded`."""
    retired = list(session.scalars(sa.select(Case).where(
        Case.process_id == process_id, Case.status == SCHEDULED, Case.deployment_id != deployment_id)))
    for case in retired:
        session.execute(sa.delete(Timer).where(Timer.case_id == case.id))
        case.status, case.updated_at, case.version = SUPERSEDED, now, case.version + 1
        audit.append(session, kind="schedule_superseded", actor="scheduler", at=now, case_id=case.id,
                     deployment_id=case.deployment_id, payload={"by_deployment": deployment_id})
    return [case.id for case in retired]


def first_occurrence(start, evaluate, now: datetime) -> tuple[bool, dict | None]:
    """For a new schedule: whether anything is left to wait for, and, for an ISO cycle, its next
    occurrence at or after now with the repetitions left (otherwise the timer module computes the
    occurrence when the start event is reached). `evaluate` turns the timer text into its value."""
    definition = start.event_definition
    if not isinstance(definition, CycleTimerEventDefinition):
        return True, None
    expression = evaluate(definition.expression)
    if not isinstance(expression, str) or looks_like_cron(expression):
        return True, None
    cycles, first, duration = TimerEventDefinition.parse_iso_recurring_interval(expression)
    if first < now and duration > timedelta(0):
        passed = -(-(now - first) // duration)  # occurrences before now, skipped
        first += passed * duration
        cycles = max(cycles - passed, 0) if cycles > 0 else cycles
    return cycles != 0, {"cycles": cycles, "next": first.isoformat(), "duration": duration.total_seconds()}


def seed(workflow: BpmnWorkflow, bpmn_id: str, value: dict | None) -> None:
    """Before the new workflow runs: make its timer start event wait for `value`."""
    if value is not None:
        task = next(t for t in workflow.tasks.values() if t.task_spec.bpmn_id == bpmn_id)
        task.internal_data["event_value"] = value


def hand_on(task: Task) -> dict | None:
    """The fired timer start event ends its cycle in this case (each occurrence is a case of its own); the
    occurrence the next scheduled case waits for, or None when the cycle is over."""
    value = task.internal_data.get("event_value")
    if not isinstance(value, dict) or value.get("cycles") == 0:
        return None
    following = dict(value)
    value["cycles"] = 0
    return following
