"""Events from outside a case — messages and signals — and how a workflow catches them: one correlated
task, every task waiting for a signal, or an event subprocess (which SpiffWorkflow starts on a caught
event but never lets interrupt its process)."""

from __future__ import annotations

from dataclasses import dataclass

from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from engine.runtime import subscriptions


@dataclass(frozen=True)
class Trigger:
    """A message or signal from outside the case: its variables become case data (as in Camunda)."""

    kind: str  # message | signal
    name: str
    data: dict
    task_id: str | None = None  # the correlated task (messages); signals reach every waiting task
    bpmn_id: str | None = None  # the start event a new case is started by

    @property
    def label(self) -> str:
        return f"{'消息' if self.kind == 'message' else '信号'}“{self.name}”"

    def audit(self) -> dict:
        return {"kind": self.kind, "name": self.name, "data": self.data}


def catch(workflow: BpmnWorkflow, trigger: Trigger, chosen, tasks: list[Task] | None = None) -> list[Task]:
    """Let the chosen waiting tasks catch the trigger, as SpiffWorkflow's event manager does per task."""
    caught = []
    for task in tasks if tasks is not None else subscriptions.waiting(workflow):
        for kind, name, definition in subscriptions.definitions(task.task_spec):
            if kind != trigger.kind or name != trigger.name or not chosen(task.task_spec):
                continue
            task.data.update(trigger.data)
            payload = trigger.data if kind == "signal" else {"payload": trigger.data,
                                                              "result_var": getattr(definition, "result_var", None)}
            task.task_spec.catch(task, BpmnEvent(definition, payload=payload))
            task.task_spec._update(task)
            caught.append(task)
            break
    return caught


def start_event_subprocess(workflow: BpmnWorkflow, trigger: Trigger) -> list[Task]:
    """Start the event subprocesses whose start event catches the trigger (SpiffWorkflow starts them on
    a caught event); an interrupting one first cancels everything else the process is doing, which
    SpiffWorkflow does not do."""
    starts = [start for start in subscriptions.event_subprocess_starts(workflow)
              if any(k == trigger.kind and n == trigger.name for k, n, _ in subscriptions.definitions(start))]
    if not starts:
        return []
    definition = subscriptions.definitions(starts[0])[0][2]
    payload = trigger.data if trigger.kind == "signal" else {"payload": trigger.data, "result_var": None}
    workflow.task_tree.data.update(trigger.data)
    workflow.catch(BpmnEvent(definition, payload=payload))
    if any(getattr(start, "interrupting", True) for start in starts):
        triggered = set(workflow.spec.start.trigger_specs)
        for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            if task.workflow is workflow and task.task_spec.name not in triggered and task.parent is not None:
                task.cancel()
    return [workflow.task_tree]
