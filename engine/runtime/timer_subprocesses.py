"""Event subprocesses started by a timer, as BPMN and Camunda run them.

SpiffWorkflow 3.2 runs an event subprocess whose start event is a timer as one more parallel branch from
the process's start (`BpmnStartTask.connect_or_add_trigger`): the process then waits for the timer even
after its main path has ended, and an interrupting one, once fired, leaves the main path running. After
every engine run, `settle` corrects both: an event subprocess whose timer has not fired is cancelled when
the rest of its process has finished, and an interrupting one whose timer fired cancels the rest.
"""

from __future__ import annotations

from collections.abc import Iterator

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.runtime.casestate import all_tasks


def _timer_start(task: Task):
    """The timer start event of the event subprocess this task runs, or None. The parser gives such a
    subprocess a plain subprocess spec connected from the process start; only an event subprocess can
    start with a timer."""
    if not isinstance(task.task_spec, SubWorkflowTask) or task.task_spec not in task.workflow.spec.start.outputs:
        return None
    spec = task.workflow.top_workflow.subprocess_specs.get(task.task_spec.spec)
    starts = spec.bpmn_start_events if spec is not None else []
    return next((s for s in starts if isinstance(s.event_definition, TimerEventDefinition)), None)


def _start_tasks(task: Task, start) -> list[Task] | None:
    """The start event's tasks in the event subprocess (None before it exists)."""
    subprocess = task.workflow.top_workflow.subprocesses.get(task.id)
    if subprocess is None:
        return None
    return [t for t in subprocess.tasks.values() if t.task_spec is start]


def _fired(task: Task, start) -> bool:
    """Its timer has fired at least once: the start event completed (and may since be compacted away),
    or, a cycle, it started a path and waits for the next one."""
    starts = _start_tasks(task, start)
    if starts is None:
        return task.state == TaskState.COMPLETED
    if not starts:
        return True
    ran = TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.COMPLETED | TaskState.ERROR
    return any(t.state == TaskState.COMPLETED or any(child.has_state(ran) for child in t.children)
               for t in starts)


def _rest(task: Task) -> Iterator[Task]:
    """The unfinished tasks of the process the event subprocess belongs to, but for itself, its ancestors
    and the process end (which waits for every branch)."""
    workflow = task.workflow
    ancestors = set()
    parent = task.parent
    while parent is not None:
        ancestors.add(parent.id)
        parent = parent.parent
    for other in list(workflow.tasks.values()):
        if other is task or other.id in ancestors or other.has_state(TaskState.FINISHED_MASK):
            continue
        if other.task_spec is workflow.spec.end or other.task_spec.name == "End":
            continue
        yield other


def settle(workflow: BpmnWorkflow) -> bool:
    """Apply both rules once; True when a task was cancelled (the caller runs the engine again). When the
    rest of its process has finished, an event subprocess's waiting timer start is cancelled: one that
    never fired ends at once, a non-interrupting one that did ends when its running paths have."""
    changed = False
    for task in list(all_tasks(workflow)):
        start = _timer_start(task)
        if start is None or task.has_state(TaskState.CANCELLED | TaskState.ERROR):
            continue
        fired = _fired(task, start)
        if fired and getattr(start, "interrupting", True):
            if not task.internal_data.get("xinfang_interrupted"):
                task.internal_data["xinfang_interrupted"] = True
                for other in list(_rest(task)):
                    if not other.has_state(TaskState.FINISHED_MASK):
                        other.cancel()
                        changed = True
        elif task.state != TaskState.COMPLETED and all(_timer_start(other) is not None for other in _rest(task)):
            if not fired:
                task.cancel()
                changed = True
            for waiting in [t for t in _start_tasks(task, start) or [] if t.state == TaskState.WAITING]:
                # A cycle that started paths: no further repetitions, but the paths it started (its
                # children, which cancelling it would take along) run on; an exhausted cycle completes.
                value = waiting.internal_data.get("event_value")
                if isinstance(value, dict) and value.get("cycles") != 0:
                    value["cycles"] = 0
                    changed = True
    if changed:
        for owner in [workflow, *workflow.subprocesses.values()]:
            for join in owner.get_tasks(state=TaskState.WAITING):
                if join.task_spec is owner.spec.end:
                    join.task_spec._update(join)
    return changed
