"""The script engine a case runs with: restricted expressions, calendar helpers, handler dispatch.

SpiffWorkflow does not serialise the script engine, so a fresh one is attached for every command, bound
to that command's clock, transaction and actor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.task import Task

from engine.bpmn.expressions import Budget, RestrictedEnvironment, to_python_expression
from engine.runtime.handlers_registry import HandlerContext, HandlerRegistry


class Limits:
    """A process's camunda:properties as `limits.name` in expressions: deadlines and counts live in the
    diagram's configuration, not in its expressions. Numbers are numbers; the rest stays text."""

    def __init__(self, process_id: str, properties: Mapping[str, str]) -> None:
        self._process_id = process_id
        self._values = {name: _number_or_text(value) for name, value in properties.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"流程 {self._process_id} 的属性中没有配置 {name}") from None


def _number_or_text(value: str) -> Any:
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        number = Decimal(text)
    except InvalidOperation:
        return value
    return number if number.is_finite() else value


def limits_of(task: Task) -> Limits:
    spec = task.workflow.spec
    return Limits(spec.name, getattr(spec, "properties", {}))


class CaseScriptEngine(PythonScriptEngine):
    """One per command: `budget` bounds all the command's scripts and expressions together."""

    def __init__(self, helpers: Mapping[str, Callable[..., Any]], handlers: HandlerRegistry,
                 context: Callable[[Task], HandlerContext], budget: Budget | None = None) -> None:
        super().__init__(environment=RestrictedEnvironment(helpers, budget))
        self._handlers = handlers
        self._context = context

    def evaluate(self, task: Task, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        return super().evaluate(task, expression, {"limits": limits_of(task), **(external_context or {})})

    def execute(self, task: Task, script: str, external_context: Mapping[str, Any] | None = None) -> bool:
        return super().execute(task, script, {"limits": limits_of(task), **(external_context or {})})

    def run_handler(self, task: Task, name: str) -> None:
        handler = self._handlers.get(name)
        if handler is None:
            raise WorkflowTaskException(f"未注册的处理函数：{name}", task=task)
        try:
            with self.environment.meter.not_counting():  # the budget bounds diagram text, not handlers
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
