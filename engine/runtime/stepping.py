"""Running a workflow's engine steps, with the one thing SpiffWorkflow's loop cannot do: complete a
failed task without running it (the `skip` command after an incident)."""

from __future__ import annotations

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.runtime.casestate import find_task
from engine.runtime.timer_subprocesses import settle


class _Skip:
    """The failed elements to complete without running, each once, in the order the run reaches them."""

    def __init__(self, bpmn_ids: tuple[str, ...]) -> None:
        self.pending = list(bpmn_ids)

    def take(self, task) -> bool:
        if self.pending and task.task_spec.bpmn_id == self.pending[0]:
            self.pending.pop(0)
            return True
        return False


def _run_ready(workflow, skip: _Skip) -> int:
    count = 0
    for task in workflow.get_tasks(state=TaskState.READY):
        if task.task_spec.manual:
            continue
        if skip.take(task):
            task.complete()
        else:
            task.run()
        count += 1
    return count


def run_engine(workflow: BpmnWorkflow, skip: tuple[str, ...] = ()) -> None:
    """Mirrors BpmnWorkflow.do_engine_steps (SpiffWorkflow 3.2): innermost subprocesses first; then
    timer-started event subprocesses end with their process or interrupt it (timer_subprocesses)."""
    skipping = _Skip(skip)
    _steps(workflow, skipping)
    while settle(workflow):
        _steps(workflow, skipping)
    workflow.refresh_timers()


def _steps(workflow: BpmnWorkflow, skipping: _Skip) -> None:
    while True:
        active = workflow.get_active_subprocesses()
        for subprocess in sorted(active, key=lambda sp: sp.depth, reverse=True):
            while _run_ready(subprocess, skipping) > 0:
                pass
            if subprocess.parent_task_id is not None:
                parent = find_task(workflow, subprocess.parent_task_id)
                parent.task_spec._update(parent)
        progressed = _run_ready(workflow, skipping) > 0
        if not progressed and len(workflow.get_active_subprocesses()) <= len(active):
            break
