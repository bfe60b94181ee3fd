"""The subscription table: every message and signal event a case waits for.

Written in the same transaction as the case state (like the timer table), so correlating a message or
broadcasting a signal finds its cases with an indexed query and never deserialises a workflow.
"""

from __future__ import annotations

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine.runtime.casestate import address, all_tasks
from engine.store.models import EventSubscription

KINDS = {MessageEventDefinition: "message", SignalEventDefinition: "signal"}


def definitions(spec) -> list[tuple[str, str, object]]:
    """(kind, name, definition) of every message or signal an event spec catches."""
    definition = getattr(spec, "event_definition", None)
    found = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    return [(kind, item.name, item) for item in found for cls, kind in KINDS.items() if isinstance(item, cls)]


def waiting(workflow: BpmnWorkflow) -> list[Task]:
    return [task for task in all_tasks(workflow) if task.state == TaskState.WAITING and definitions(task.task_spec)]


def event_subprocess_starts(workflow: BpmnWorkflow) -> list:
    """Start events of the process's message and signal event subprocesses. SpiffWorkflow keeps these as
    triggers of the process's start, not as waiting tasks: the case waits for them while it runs."""
    if workflow.is_completed():
        return []
    return [start for name in workflow.spec.start.trigger_specs if name in workflow.subprocess_specs
            for start in workflow.subprocess_specs[name].bpmn_start_events if definitions(start)]


def sync(session: Session, case_id: int, workflow: BpmnWorkflow) -> None:
    wanted = {(str(task.id), kind, name): task for task in waiting(workflow)
              for kind, name, _ in definitions(task.task_spec)}
    root = workflow.task_tree  # stands for the process itself, which an event subprocess start belongs to
    wanted.update({(str(root.id), kind, name): (root, start) for start in event_subprocess_starts(workflow)
                   for kind, name, _ in definitions(start)})
    rows = {(row.task_id, row.kind, row.name): row
            for row in session.scalars(sa.select(EventSubscription).where(EventSubscription.case_id == case_id))}
    for key in rows.keys() - wanted.keys():
        session.delete(rows[key])
    for key in wanted.keys() - rows.keys():
        found = wanted[key]
        if isinstance(found, tuple):
            process_id, bpmn_id = workflow.spec.name, found[1].bpmn_id
        else:
            where = address(found)
            process_id, bpmn_id = where.process_id, where.bpmn_id
        session.add(EventSubscription(case_id=case_id, task_id=key[0], kind=key[1], name=key[2],
                                      process_id=process_id, bpmn_id=bpmn_id))
