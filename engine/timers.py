"""The timer table: every waiting timer event of every case, with its due time.

Written in the same transaction as the case state; the scheduler (a ticker) leases due rows from here.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimeDateEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

from engine.casestate import address, timer_definition, waiting_timers
from engine.models import Timer


def due_time(task: Task) -> datetime | None:
    """SpiffWorkflow keeps a waiting timer's due instant in internal data (a dict for cycles)."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value = value.get("next")
    if not value:
        return None
    instant = datetime.fromisoformat(value)
    return instant if instant.tzinfo else None


def set_due_time(task: Task, due: datetime) -> None:
    """Rewriting the stored due instant moves a waiting timer; it survives serialisation (ENGINE-NOTES)."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value["next"] = due.isoformat()
    else:
        task.internal_data["event_value"] = due.isoformat()


def _kind(task: Task) -> str:
    definition = timer_definition(task)
    if isinstance(definition, CycleTimerEventDefinition):
        return "cycle"
    return "date" if isinstance(definition, TimeDateEventDefinition) else "duration"


def sync(session: Session, case_id: int, workflow: BpmnWorkflow) -> None:
    waiting = {str(task.id): task for task in waiting_timers(workflow)}
    rows = {row.task_id: row for row in session.scalars(sa.select(Timer).where(Timer.case_id == case_id))}
    gone = rows.keys() - waiting.keys()
    if gone:
        session.execute(sa.delete(Timer).where(Timer.task_id.in_(gone)))
    for task_id, task in waiting.items():
        due = due_time(task)
        if due is None:
            continue
        row = rows.get(task_id)
        if row is None:
            where = address(task)
            session.add(Timer(case_id=case_id, task_id=task_id, process_id=where.process_id, bpmn_id=where.bpmn_id,
                              name=task.task_spec.bpmn_name, kind=_kind(task), due_at=due, attempts=0))
        elif row.due_at != due:  # a cycle moved on, or a deadline was moved
            row.due_at = due
