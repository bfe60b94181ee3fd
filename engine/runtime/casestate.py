"""Reading a live SpiffWorkflow workflow: its tasks, data, stable task addresses, completion.

Tasks are read from the workflows' flat task dictionaries rather than by walking the tree: walking stops
at depth 1000 (ENGINE-NOTES), and the dictionaries are cheaper anyway.

SpiffWorkflow 3.2's `BpmnWorkflow.get_task_from_id` asks each subprocess in turn, and a subprocess raises
TaskNotFoundException instead of returning None, so any task in the second subprocess or later (parallel
or nested subprocesses, event subprocesses) is "not found". `find_task` is the engine's lookup;
`install_task_lookup` corrects the library's own, which its internals use.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.audit.chain import TaskAddress

_LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    yield from workflow.tasks.values()
    for subprocess in workflow.subprocesses.values():
        yield from subprocess.tasks.values()


def find_task(workflow: BpmnWorkflow, task_id: UUID | str) -> Task | None:
    """The task with this id in the case or any of its subprocesses, or None (e.g. compacted away)."""
    key = task_id if isinstance(task_id, UUID) else UUID(task_id)
    top = workflow.top_workflow
    task = top.tasks.get(key)
    if task is None:
        task = next((sp.tasks[key] for sp in top.subprocesses.values() if key in sp.tasks), None)
    return task


def install_task_lookup() -> None:
    """Make BpmnWorkflow.get_task_from_id search every subprocess (idempotent; the command runner calls it)."""
    if getattr(BpmnWorkflow.get_task_from_id, "xinfang_lookup", False):
        return

    def get_task_from_id(self, task_id):
        task = find_task(self, task_id)
        if task is None:
            raise TaskNotFoundException(f"A task with id {task_id} was not found", task_spec=self.spec)
        return task

    get_task_from_id.xinfang_lookup = True
    BpmnWorkflow.get_task_from_id = get_task_from_id


def ready_user_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return [task for task in all_tasks(workflow) if task.state == TaskState.READY and task.task_spec.manual]


def timer_definition(task: Task) -> TimerEventDefinition | None:
    definition = getattr(task.task_spec, "event_definition", None)
    if isinstance(definition, TimerEventDefinition):
        return definition
    if isinstance(definition, MultipleEventDefinition):
        return next((d for d in definition.event_definitions if isinstance(d, TimerEventDefinition)), None)
    return None


def waiting_timers(workflow: BpmnWorkflow) -> list[Task]:
    return [task for task in all_tasks(workflow)
            if task.state == TaskState.WAITING and timer_definition(task) is not None]


def process_id_of(task: Task) -> str:
    return task.workflow.spec.name


def address(task: Task) -> TaskAddress:
    """(process, element, ordinal): the nth time this element was reached in the case, counted in the
    case's own state so replay on a fresh workflow gives the same numbers."""
    ordinal = task.internal_data.get("xinfang_ordinal")
    if ordinal is None:
        counters = task.workflow.top_workflow.task_tree.internal_data.setdefault("xinfang_ordinals", {})
        key = f"{process_id_of(task)}:{task.task_spec.bpmn_id}"
        ordinal = counters[key] = counters.get(key, 0) + 1
        task.internal_data["xinfang_ordinal"] = ordinal
    return TaskAddress(process_id_of(task), task.task_spec.bpmn_id, ordinal)


def case_data(workflow: BpmnWorkflow) -> dict:
    """The case's current data: what its live tasks carry, or, once finished, what it ended with."""
    live = [task for task in all_tasks(workflow) if task.state & _LIVE]
    if live:
        merged: dict = {}
        for task in sorted(live, key=lambda t: t.last_state_change):
            merged.update(task.data)
        return merged
    if workflow.last_task is not None:
        return {**workflow.data, **workflow.last_task.data}
    return dict(workflow.data)


class StuckCase(Exception):
    """SpiffWorkflow says the case is finished but tasks are still open (e.g. the depth-1000 stall)."""


def is_finished(workflow: BpmnWorkflow) -> bool:
    """Our own completion check: never trust `is_completed()` alone."""
    open_tasks = [task for task in all_tasks(workflow) if not task.has_state(TaskState.FINISHED_MASK)]
    if workflow.is_completed() and open_tasks:
        names = ", ".join(sorted({task.task_spec.bpmn_id or task.task_spec.name for task in open_tasks})[:5])
        raise StuckCase(f"流程引擎报告流程已结束，但仍有未完成的任务：{names}")
    return workflow.is_completed()
