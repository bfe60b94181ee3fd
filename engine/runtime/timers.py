"""The timer table: every waiting timer event of every case, with its due time.

Written in the same transaction as the case state; the scheduler (a ticker) leases due rows from here.
"""

from __future__ import annotations

import contextvars
from datetime import datetime

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

from engine.runtime.casestate import address, timer_definition, waiting_timers
from engine.store.models import Timer
from engine.timing import cron
from engine.timing.clock import current_clock


def due_time(task: Task) -> datetime | None:
    """SpiffWorkflow keeps a waiting timer's due instant in internal data (a dict for cycles)."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        # A cycle keeps its last `next` once all repetitions have fired: nothing is due any more.
        value = value.get("next") if value.get("cycles") != 0 else None
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


# SpiffWorkflow re-checks every waiting timer whenever any task of the workflow completes, so a due timer
# would fire inside whatever command happens to run on its case first: unrecorded, and with its row deleted
# (or, when nothing picks it up, READY and never run). A timer that is already waiting fires only in its
# own fire_timer command, through `fire`. Reaching a timer whose time has passed still fires it at once.
_firing: contextvars.ContextVar[str | None] = contextvars.ContextVar("xinfang_firing_timer", default=None)


def fire(task: Task) -> None:
    """Let this waiting timer fire if it is due; no other timer of the case fires with it."""
    token = _firing.set(str(task.id))
    try:
        task.task_spec._update(task)
    finally:
        _firing.reset(token)


def _held(task: Task) -> bool:
    value = task.internal_data.get("event_value")
    if value is None or _firing.get() == str(task.id):
        return False
    return not (isinstance(value, dict) and value.get("cycles") == 0)  # an exhausted cycle may complete


def _start_cron(definition: CycleTimerEventDefinition, task: Task) -> None:
    """SpiffWorkflow's cycles are ISO `R/…` only: a Quartz cron cycle (Camunda's other form) keeps its
    expression beside the next occurrence and moves on by it after each firing."""
    if task.internal_data.get("event_value") is not None or task.internal_data.get("event_fired"):
        return
    expression = task.workflow.script_engine.evaluate(task, definition.expression)
    if isinstance(expression, str) and cron.looks_like_cron(expression):
        first = cron.next_after(expression, current_clock().now())
        task.internal_data["event_value"] = {"cycles": -1 if first else 0, "cron": expression, "duration": 0,
                                             "next": (first or current_clock().now()).isoformat()}


def _advance_cron(task: Task) -> None:
    value = task.internal_data.get("event_value")
    if isinstance(value, dict) and value.get("cron"):
        following = cron.next_after(value["cron"], datetime.fromisoformat(value["next"]))
        if following is None:
            value["cycles"] = 0
        else:
            value["next"] = following.isoformat()


def install_gate() -> None:
    """Patch SpiffWorkflow's timer definitions (idempotent; the command runner installs it)."""
    for definition, method in ((TimeDateEventDefinition, "has_fired"), (DurationTimerEventDefinition, "has_fired"),
                               (CycleTimerEventDefinition, "cycle_complete")):
        original = getattr(definition, method)
        if getattr(original, "xinfang_gate", False):
            continue

        def gated(self, my_task, _original=original, _method=method):
            if _method == "cycle_complete":
                _start_cron(self, my_task)
            if _held(my_task):
                return _method == "has_fired" and my_task.internal_data.get("event_fired", False)
            fired = _original(self, my_task)
            if fired and _method == "cycle_complete":
                _advance_cron(my_task)
            return fired

        gated.xinfang_gate = True
        setattr(definition, method, gated)


def _kind(task: Task) -> str:
    definition = timer_definition(task)
    if isinstance(definition, CycleTimerEventDefinition):
        return "cycle"
    return "date" if isinstance(definition, TimeDateEventDefinition) else "duration"


def sync(session: Session, case_id: int, workflow: BpmnWorkflow) -> None:
    waiting = {str(task.id): task for task in waiting_timers(workflow) if due_time(task) is not None}
    rows = {row.task_id: row for row in session.scalars(sa.select(Timer).where(Timer.case_id == case_id))}
    gone = rows.keys() - waiting.keys()
    if gone:
        session.execute(sa.delete(Timer).where(Timer.task_id.in_(gone)))
    for task_id, task in waiting.items():
        due = due_time(task)
        row = rows.get(task_id)
        if row is None:
            where = address(task)
            session.add(Timer(case_id=case_id, task_id=task_id, process_id=where.process_id, bpmn_id=where.bpmn_id,
                              name=task.task_spec.bpmn_name, kind=_kind(task), due_at=due, attempts=0))
        elif row.due_at != due:  # a cycle moved on, or a deadline was moved
            row.due_at = due
