"""Keeping finished work out of a case's live task tree.

SpiffWorkflow keeps every completed task forever and walks the whole tree several times per step, so a
long-running case gets slower with every task (ENGINE-NOTES: linear growth; depth-1000 stall). After each
command we splice completed tasks out of plain chains and drop completed subprocesses. What the tree loses
is history only: the audit log, not the task tree, is the case's history.

Spliced: a COMPLETED task with exactly one child, where neither it nor the child is structural —
joins read their inputs' parents, boundary splits hold their attached events, subprocess and loop tasks
own children or subworkflows. The root stays (it holds the ordinal counters).
"""

from __future__ import annotations

from SpiffWorkflow.bpmn.specs.control import EventSplit
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.task import TaskState

from engine.runtime.casestate import find_task

# Exclusive merges and activities with several incoming flows never look at their inputs' tasks; these do.
_STRUCTURAL = (ParallelGateway, InclusiveGateway, UnstructuredJoin, Join, EventSplit, SubWorkflowTask, LoopTask)


def _structural(task) -> bool:
    return isinstance(task.task_spec, _STRUCTURAL)


def _splice_chains(workflow) -> int:
    removed = 0
    for task_id in list(workflow.tasks):
        task = workflow.tasks.get(task_id)
        if task is None or task._parent is None or task.state != TaskState.COMPLETED or len(task._children) != 1:
            continue
        child = workflow.tasks.get(task._children[0])
        parent = workflow.tasks.get(task._parent)
        if child is None or parent is None or _structural(task) or _structural(child):
            continue
        parent._children = [child.id if c == task.id else c for c in parent._children]
        child._parent = parent.id
        del workflow.tasks[task_id]
        removed += 1
    return removed


def compact(workflow: BpmnWorkflow) -> int:
    """Remove finished tasks the engine will never look at again; returns how many were removed."""
    removed = 0
    for task_id, subprocess in list(workflow.subprocesses.items()):
        parent_task = find_task(workflow, task_id)
        if subprocess.completed and (parent_task is None or parent_task.has_state(TaskState.FINISHED_MASK)):
            removed += len(subprocess.tasks)
            del workflow.subprocesses[task_id]
    for owner in [workflow, *workflow.subprocesses.values()]:
        removed += _splice_chains(owner)
    return removed
