"""Sandboxed evaluation of the text in BPMN diagrams: conditions, timers, scripts, assignment expressions.

SpiffWorkflow evaluates with plain eval/exec, so diagram text could import modules or walk
``().__class__.__subclasses__()``.  Here every text is compiled with RestrictedPython plus our own checks
and runs against a whitelist of builtins and guard functions, so imports, underscore attributes, files and
sockets are unreachable.
"""

import ast
import builtins
import functools
import operator
import re
import textwrap
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from types import CodeType
from typing import Any, NamedTuple

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from engine.bpmn.budget import Budget, BudgetTransformer, LimitExceeded, Meter, unbounded_problems
from engine.bpmn.camunda_text import to_python_expression, to_python_timer
from engine.bpmn.library_messages import python_syntax_message

__all__ = ["Budget", "ExpressionError", "LimitExceeded", "RestrictedEnvironment", "check", "to_python_expression",
           "to_python_timer"]


class ExpressionError(Exception):
    """Diagram text that is refused or does not compile; ``message`` is written for process owners."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"第 {line} 行：{message}" if line else message)
        self.message = message
        self.line = line


_BUILTINS = {name: getattr(builtins, name) for name in (
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float", "frozenset", "int",
    "isinstance", "iter", "len", "list", "map", "max", "min", "next", "ord", "pow", "range", "repr",
    "reversed", "round", "set", "slice", "sorted", "str", "sum", "tuple", "zip",
    "ArithmeticError", "AttributeError", "Exception", "IndexError", "KeyError", "LookupError", "NameError",
    "TypeError", "ValueError", "ZeroDivisionError",
)}


def _empty(value: Any) -> bool:
    """JUEL's `empty`: null, an empty string and an empty collection are empty."""
    return value is None or (isinstance(value, (str, list, tuple, dict, set, frozenset)) and not value)


def _concat(*parts: Any) -> str:
    """JUEL's composite text (`第${n}次`): each part as text, null as nothing."""
    return "".join("" if part is None else str(part) for part in parts)


_PREDEFINED: dict[str, Any] = {"datetime": datetime, "date": date, "timedelta": timedelta, "Decimal": Decimal,
                               "empty": _empty, "concat": _concat}

# None of these is in _BUILTINS, so at run time they are a NameError anyway; refusing them when the
# diagram is checked tells the process owner early and in words.
_FORBIDDEN_CALLS = frozenset({
    "__import__", "open", "eval", "exec", "compile", "globals", "locals", "vars", "getattr", "setattr",
    "delattr", "hasattr", "type", "object", "super", "input", "print", "breakpoint", "memoryview", "dir",
    "help", "exit", "quit",
})

def _write(obj: Any) -> Any:
    # Only containers that come from task data may be changed in place (d['k'] = v); helpers, classes and
    # functions stay read-only.
    if type(obj) in (dict, list, set):
        return obj
    raise TypeError(f"不允许修改 {type(obj).__name__} 类型的对象")


def _apply(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


# The names RestrictedPython's compiled code calls; put into every namespace last so task data cannot
# replace them. The budget's guards (Meter.guards) join them per environment.
_GUARDS: dict[str, Any] = {
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _write,
    "_apply_": _apply,
}

_UNDERSCORE_NAME = '不允许使用以下划线开头的名称 "{name}"'
_UNDERSCORE_ATTRIBUTE = '不允许访问以下划线开头的属性 "{name}"'
_REFUSALS = tuple((re.compile(pattern), message) for pattern, message in (
    (r'"__import__" is an invalid variable name', "不允许导入模块"),
    (r'"\*" imports are not allowed', "不允许导入模块"),
    (r'"(?P<name>[^"]*)" is an invalid variable name because it starts', _UNDERSCORE_NAME),
    (r'"(?P<name>[^"]*)" is an invalid attribute name because it starts', _UNDERSCORE_ATTRIBUTE),
    (r'"(?P<name>[^"]*)" is a restricted name', '不允许访问属性 "{name}"'),
    (r'"(?P<name>[^"]*)" is a reserved name', '不允许使用 "{name}"'),
    (r"Exec calls", '不允许使用 "exec"'),
    (r"Eval calls", '不允许使用 "eval"'),
    (r"Augmented assignment of attributes", "不支持对属性使用 +=、-= 等，请写成 a.b = a.b + 1"),
    (r"Augmented assignment of object items", "不支持对元素使用 +=、-= 等，请写成 d['k'] = d['k'] + 1"),
    (r"(?P<name>\w+) statements are not allowed", "不允许使用 {name} 语句"),
))

_Problem = tuple[int | None, str]


class _Analysis(NamedTuple):
    code: CodeType | None  # None whenever there are problems
    problems: tuple[_Problem, ...]
    assigned: tuple[tuple[str, int], ...]  # names the text binds, for the predefined-name check


@functools.lru_cache(maxsize=4096)
def _analyse(source: str, mode: str) -> _Analysis:
    try:
        return _analyse_text(source, mode)
    except (RecursionError, MemoryError):  # Python's parser and compiler give up on very deep nesting
        return _Analysis(None, ((1, "表达式嵌套过深：请拆成几步（脚本任务或处理函数）"),), ())


def _analyse_text(source: str, mode: str) -> _Analysis:
    # Leading whitespace would be an IndentationError; dedent keeps script line numbers intact.
    source = source.strip() if mode == "eval" else textwrap.dedent(source)
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as err:
        return _Analysis(None, ((err.lineno, python_syntax_message(err.msg)),), ())
    problems: set[_Problem] = set()
    assigned = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", None)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            # RestrictedPython compiles imports and relies on a guarded __import__; we allow none.
            problems.add((line, "不允许导入模块"))
        elif isinstance(node, ast.ClassDef):
            problems.add((line, "不允许定义类"))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) in _FORBIDDEN_CALLS:
            name = node.func.id
            problems.add((line, "不允许导入模块" if name == "__import__" else f'不允许使用 "{name}"'))
        elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            assigned.append((node.id, line))
    problems.update(unbounded_problems(tree))
    # The transformer rewrites the tree in place: every check of the tree as written comes before it.
    compiled = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(tree, policy=BudgetTransformer)
    problems.update(_refusal(text) for text in compiled.errors)
    ordered = tuple(sorted(problems, key=lambda problem: (problem[0] or 0, problem[1])))
    return _Analysis(None if ordered else compiled.code, ordered, tuple(assigned))


def _refusal(text: str) -> _Problem:
    """Map one of RestrictedPython's "Line N: ..." refusals to a problem in Chinese."""
    location, detail = text.split(": ", 1)  # RestrictedPython writes "Line <lineno or None>: <detail>"
    number = location.removeprefix("Line ")
    line = int(number) if number.isdigit() else None
    for pattern, message in _REFUSALS:
        found = pattern.search(detail)
        if found:
            return line, message.format(**found.groupdict())
    return line, f"不允许的写法：{detail}"


def check(source: str, mode: str = "eval", names: Iterable[str] = ()) -> list[ExpressionError]:
    """All problems of already translated Python ``source``; ``names`` are the helpers it may call.

    Unknown free names are fine: they are task data, known only at run time.
    """
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    analysis = _analyse(source, mode)
    # A script binding a helper or predefined name would lose the value (it is not task data) and hide
    # the helper from later tasks.
    reserved = _PREDEFINED.keys() | set(names)
    problems = set(analysis.problems) | {
        (line, f'不能给预定义名称 "{name}" 赋值') for name, line in analysis.assigned if name in reserved
    }
    return [ExpressionError(message, line)
            for line, message in sorted(problems, key=lambda problem: (problem[0] or 0, problem[1]))]


_translated = functools.lru_cache(maxsize=4096)(to_python_expression)


def _runnable(text: str, mode: str) -> CodeType:
    # Conditions arrive as raw diagram text (SpiffWorkflow's parser keeps "${...}"); translating valid
    # Python is a no-op.
    analysis = _analyse(_translated(text) if mode == "eval" else text, mode)
    if analysis.code is None:
        line, message = analysis.problems[0]
        raise ExpressionError(message, line)  # never runs: refused code has no code object
    return analysis.code


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow script environment with TaskDataEnvironment's semantics, but sandboxed and bounded.

    One environment per command: the budget's time counts from its creation, for everything it evaluates.
    """

    def __init__(self, helpers: Mapping[str, Callable[..., Any]] | None = None, budget: Budget | None = None) -> None:
        super().__init__()
        self.set_helpers(helpers or {})
        self.meter = Meter(budget or Budget())
        self._guards = {**_GUARDS, **self.meter.guards(), "__builtins__": {**_BUILTINS, **self.meter.builtins()}}

    def set_helpers(self, helpers: Mapping[str, Callable[..., Any]]) -> None:
        """Replace the helpers; the engine re-attaches them per command (they read an injected clock)."""
        self.globals = {**_PREDEFINED, **helpers}

    def evaluate(self, expression: str, context: dict[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        self.meter.tick()  # an expression evaluated after the deadline fails without running
        value = eval(_runnable(expression, "eval"), self._namespace(context, external_context or {}))
        self.meter.check_exhausted()
        return value

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        external_context = external_context or {}
        clash = (self.globals.keys() | external_context.keys()) & context.keys()
        if clash:
            raise ValueError(f"任务数据中的变量与预定义名称重名，请改名：{', '.join(sorted(clash))}")
        namespace = self._namespace(context, external_context)
        self.meter.tick()
        exec(_runnable(script, "exec"), namespace)
        self.meter.check_exhausted()
        # Like TaskDataEnvironment, data afterwards is the script's namespace without helpers, external
        # context and callables; unlike it, a script that fails part-way leaves the data untouched.
        hidden = self.globals.keys() | external_context.keys() | self._guards.keys()
        kept = {name: value for name, value in namespace.items() if not (name in hidden or callable(value))}
        context.clear()
        context.update(kept)
        return True

    def _namespace(self, context: Mapping[str, Any], external_context: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.globals, **external_context, **context, **self._guards}
