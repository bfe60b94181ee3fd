"""What each command ran: the diagram elements it completed, kept in its audit event.

The task tree cannot be the case's history: compaction (engine/runtime/compaction.py) splices finished
tasks out and drops finished subprocesses, and SpiffWorkflow keeps no record of what ran. So each command
compares the elements completed in the tree when it loaded the case with those completed before the tree is
compacted, and its event names the new ones — service tasks, scripts, gateways, events and ends alike.
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.runtime.casestate import all_tasks, process_id_of

Element = tuple[str, str]  # (process id, BPMN element id)


def completed_elements(workflow: BpmnWorkflow) -> frozenset[Element]:
    """The elements with a completed task in the live tree (SpiffWorkflow's own Start/End/Root have no
    BPMN id and are left out)."""
    return frozenset((process_id_of(task), task.task_spec.bpmn_id) for task in all_tasks(workflow)
                     if task.state == TaskState.COMPLETED and task.task_spec.bpmn_id is not None)


def ran(at_load: frozenset[Element], workflow: BpmnWorkflow) -> list[list[str]]:
    """The elements completed since `at_load`, sorted (the event payload is hashed, so its order is fixed)."""
    return [list(element) for element in sorted(completed_elements(workflow) - at_load)]
