"""Camunda's multi-instance counters in `completionCondition`: `nrOfInstances`, `nrOfCompletedInstances`,
`nrOfActiveInstances`. SpiffWorkflow evaluates the condition over the last finished instance's data only,
where Camunda users expect these counters; they are bound for the evaluation and not kept in the data."""

from __future__ import annotations

from collections.abc import Sized

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.task import Task

_COUNTERS = ("nrOfInstances", "nrOfCompletedInstances", "nrOfActiveInstances")


def counters(spec: MultiInstanceTask, task: Task) -> dict[str, int]:
    completed = len(task.internal_data.get("merged", []))
    source = spec.data_input.get(task) if spec.data_input is not None and spec.data_input.exists(task) else None
    if isinstance(source, Sized):
        total = len(source)
    else:
        total = len([child for child in task.children if child.task_spec.name == spec.task_spec])
    return {"nrOfInstances": total, "nrOfCompletedInstances": completed,
            "nrOfActiveInstances": int(completed < total) if isinstance(spec, SequentialMultiInstanceTask)
            else max(total - completed, 0)}


def install_counters() -> None:
    """Patch SpiffWorkflow's completion check (idempotent; the command runner installs it)."""
    original = MultiInstanceTask.check_completion_condition
    if getattr(original, "xinfang_counters", False):
        return

    def check(self, my_task):
        merged = my_task.internal_data.get("merged", [])
        if not merged or self.condition is None:
            return original(self, my_task)
        last = next(child for child in my_task.children if str(child.id) == merged[-1])
        bound = counters(self, my_task)
        shadowed = {name: last.data[name] for name in _COUNTERS if name in last.data}
        last.data.update(bound)
        try:
            return my_task.workflow.script_engine.evaluate(last, self.condition)
        finally:
            for name in _COUNTERS:
                last.data.pop(name, None)
            last.data.update(shadowed)

    check.xinfang_counters = True
    MultiInstanceTask.check_completion_condition = check
