"""The script engine a case runs with: restricted expressions, calendar helpers, handler dispatch.

SpiffWorkflow does not serialise the script engine, so a fresh one is attached for every command, bound
to that command's clock, transaction and actor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.task import Task

from engine.expressions import RestrictedEnvironment, to_python_expression
from engine.handlers_registry import HandlerContext, HandlerRegistry


class CaseScriptEngine(PythonScriptEngine):
    def __init__(self, helpers: Mapping[str, Callable[..., Any]], handlers: HandlerRegistry,
                 context: Callable[[Task], HandlerContext]) -> None:
        super().__init__(environment=RestrictedEnvironment(helpers))
        self._handlers = handlers
        self._context = context

    def run_handler(self, task: Task, name: str) -> None:
        handler = self._handlers.get(name)
        if handler is None:
            raise WorkflowTaskException(f"未注册的处理函数：{name}", task=task)
        try:
            result = handler(self._context(task))
        except Exception as exc:
            raise WorkflowTaskException(f"处理函数 {name} 出错：{exc}", task=task, exception=exc) from exc
        if result:
            task.data.update(result)

    def evaluate_text(self, task: Task, text: str | None) -> Any:
        """A diagram attribute: `${...}` is evaluated against the task's data, anything else is literal."""
        if text is None or "${" not in text:
            return text
        return self.evaluate(task, to_python_expression(text))
