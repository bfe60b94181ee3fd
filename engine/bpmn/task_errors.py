"""Errors of diagram text evaluated by a task spec, in words for the incident.

SpiffWorkflow wraps an evaluator error as "Error evaluating expression '…'" with English notes, and its
str() appends ". " even without notes; the incident shows `message` when there is one
(engine/runtime/incidents.py).
"""

from __future__ import annotations

import re
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.task import Task

from engine.bpmn.budget import LimitExceeded


def failure(message: str, task: Task, error_type: str = "DiagramError") -> WorkflowTaskException:
    # Without `exception=`, which would add an English "did you mean" note.
    error = WorkflowTaskException(message, task=task)
    error.message = message
    error.error_type = error_type
    return error


def evaluate(task: Task, text: str, where: str, context: dict[str, Any] | None = None) -> Any:
    """Evaluate `text` on the task's script engine; a failure says `where` (e.g. 决策表“X”第 2 条规则)."""
    try:
        return task.workflow.script_engine.evaluate(task, text, external_context=context)
    except WorkflowTaskException as error:
        cause = error.__cause__ or error.__context__
        if cause is None or isinstance(cause, LimitExceeded):
            raise  # already in words (the budget's own message)
        raise failure(f"{where}无法计算：{reason(cause)}", task, type(cause).__name__) from cause


def reason(cause: BaseException) -> str:
    """Why an expression could not be evaluated, in words: the unknown variable by name."""
    if isinstance(cause, NameError) and cause.name:
        return f"变量 {cause.name} 不存在"
    return f"{type(cause).__name__}：{cause}"


def unwrapped(error: BaseException) -> str | None:
    """The message for SpiffWorkflow's own "Error evaluating expression '…'" (an attribute such as
    camunda:assignee evaluated without a `where`), naming the expression; None for any other error."""
    text = error.args[0] if error.args and isinstance(error.args[0], str) else ""  # without the notes
    found = re.fullmatch(r"Error evaluating expression '(.*)'", text, re.S)
    cause = getattr(error, "exception", None) or error.__cause__ or error.__context__
    if found is None or cause is None:
        return None
    return f"表达式“{found.group(1)}”无法计算：{reason(cause)}"
