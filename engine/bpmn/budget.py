"""What one command's diagram text may cost: processor time, and the size of each value it builds.

A script runs in the command's thread while the command holds its write transaction (on SQLite, the
database's one write lock), so a `while True` or a `10**10**10` would stop every writer. Signals work only in
the main thread and `sys.settrace` misses a one-line `while True: pass`, so the bound is compiled in instead:
every loop iteration, comprehension step and function call first calls `_tick_()`, which checks the
command's deadline; and every operation that can build a huge value in a single C call (`**`, `*`, `+`, `<<`,
`%` on text, `range`, `pow`, padding and joining text, format widths) goes through a guard that refuses the
result before it is built. Time spent in C between two ticks is therefore bounded by the value caps.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.Guards import safer_getattr

__all__ = ["Budget", "BudgetTransformer", "LimitExceeded", "Meter", "unbounded_problems"]


@dataclass(frozen=True)
class Budget:
    """Limits of one command's scripts and expressions, all of them together for the time."""

    # Processor time of the command's thread from its start, scripts and expressions included: a loop
    # burns it, while a busy machine or a wait for the database does not count against the diagram.
    seconds: float = 2.0
    max_items: int = 1_000_000  # characters of a string, items of a list, tuple, dict, set or range
    max_int_bits: int = 100_000  # about 30,000 decimal digits

    def __post_init__(self) -> None:
        if min(self.seconds, self.max_items, self.max_int_bits) <= 0:
            raise ValueError("脚本预算的各项限制必须大于 0")


class LimitExceeded(Exception):
    """A script or expression went over its budget; the message is for the process owner."""


_SIZED = (str, bytes, list, tuple, dict, set, frozenset, range)
_NUMBERS = (int, float, Decimal, timedelta)
# "%[(key)][flags][width][.precision]type": a width or precision is how much padding one field adds.
_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
# format spec: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[_,]?(?:\.(\d+))?")
_TEXT_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate"})


class Meter:
    """One command's budget in use: its deadline and the guards its compiled text calls."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.deadline = time.thread_time() + budget.seconds
        # Once over time, every later tick fails too and the evaluation fails even if the script caught
        # the error: a script cannot buy itself more time with `except Exception`.
        self.exhausted = False

    def guards(self) -> dict[str, Any]:
        """The names compiled text calls (see BudgetTransformer) and the guarded builtins."""
        return {"_tick_": self.tick, "_pow_": self.pow, "_mul_": self.mul, "_add_": self.add,
                "_lshift_": self.lshift, "_mod_": self.mod, "_format_": self.format,
                "_getattr_": self.getattr, "_inplacevar_": self.inplace}

    def builtins(self) -> dict[str, Callable[..., Any]]:
        return {"range": self.range, "pow": self.pow, "iter": _single_iter, "sum": _numeric_sum}

    # ---- time ---------------------------------------------------------------------------------

    def tick(self) -> bool:
        if self.exhausted or time.thread_time() > self.deadline:
            self.exhausted = True
            raise LimitExceeded(self.timeout_message())
        return True  # truthy: also used as a comprehension condition and in `tick() and body`

    def timeout_message(self) -> str:
        return f"脚本超出时间限制（每次操作 {self.budget.seconds:g} 秒），可能陷入了死循环"

    def check_exhausted(self) -> None:
        if self.exhausted:
            raise LimitExceeded(self.timeout_message())

    @contextmanager
    def not_counting(self) -> Iterator[None]:
        """Time spent inside is not the diagram text's: e.g. a handler, trusted Python, hashing a query code."""
        start = time.thread_time()
        try:
            yield
        finally:
            self.deadline += time.thread_time() - start

    # ---- size ---------------------------------------------------------------------------------

    def _items(self, count: int) -> None:
        if count > self.budget.max_items:
            raise LimitExceeded(f"脚本生成的值过大（{count} 项，上限 {self.budget.max_items} 项）")

    def _bits(self, bits: int) -> None:
        if bits > self.budget.max_int_bits:
            raise LimitExceeded(f"脚本计算的整数过大（约 {bits} 位二进制，上限 {self.budget.max_int_bits} 位）")

    def pow(self, base: Any, exponent: Any, modulus: Any = None) -> Any:
        if modulus is not None:  # bounded by the modulus
            return pow(base, exponent, modulus)
        if _is_int(base) and _is_int(exponent) and exponent > 0 and abs(base) > 1:
            self._bits((abs(base).bit_length() - 1) * exponent)
        return base ** exponent

    def mul(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right):
            self._bits(left.bit_length() + right.bit_length())
        elif isinstance(left, _SIZED) and _is_int(right):
            self._items(len(left) * max(right, 0))
        elif isinstance(right, _SIZED) and _is_int(left):
            self._items(len(right) * max(left, 0))
        return left * right

    def add(self, left: Any, right: Any) -> Any:
        if isinstance(left, _SIZED) and isinstance(right, _SIZED):
            self._items(len(left) + len(right))
        return left + right

    def lshift(self, left: Any, right: Any) -> Any:
        if _is_int(left) and _is_int(right) and right > 0:
            self._bits(left.bit_length() + right)
        return left << right

    def mod(self, left: Any, right: Any) -> Any:
        if isinstance(left, str):
            for width, precision in _PERCENT_FIELD.findall(left):
                for number in (width, precision):
                    if number == "*":
                        raise LimitExceeded("不支持 % 格式中用 * 指定宽度")
                    if number:
                        self._items(int(number))
        return left % right

    def inplace(self, op: str, target: Any, value: Any) -> Any:
        guarded = {"+=": self.add, "*=": self.mul, "**=": self.pow, "<<=": self.lshift, "%=": self.mod}.get(op)
        if guarded is not None:
            return guarded(target, value)
        return _INPLACE[op](target, value)

    def format(self, value: Any, conversion: int, spec: str) -> str:
        """One `{value!conversion:spec}` of an f-string."""
        if conversion != -1:
            value = {ord("r"): repr, ord("s"): str, ord("a"): ascii}[conversion](value)
        found = _FORMAT_SPEC.match(spec)
        for number in found.groups() if found else ():
            if number:
                self._items(int(number))
        return format(value, spec)

    def range(self, *bounds: int) -> range:
        numbers = range(*bounds)
        try:
            count = len(numbers)
        except OverflowError:  # longer than sys.maxsize
            count = self.budget.max_items + 1
        self._items(count)
        return numbers

    def getattr(self, obj: Any, name: str, *default: Any) -> Any:
        if isinstance(obj, dict) and name in obj:  # JUEL's `order.amount` on a map, as Camunda reads it
            return obj[name]
        value = safer_getattr(obj, name, *default)
        if isinstance(obj, (str, bytes)) and name in _TEXT_METHODS:
            return functools.partial(self._text_method, obj, name)
        if _is_int(obj) and name == "to_bytes":
            return functools.partial(self._to_bytes, obj)
        return value

    def _to_bytes(self, number: int, length: int = 1, *args: Any, **kwargs: Any) -> bytes:
        if _is_int(length):
            self._items(length)
        return number.to_bytes(length, *args, **kwargs)

    def _text_method(self, text: str | bytes, name: str, *args: Any, **kwargs: Any) -> Any:
        if name in ("center", "ljust", "rjust", "zfill") and args and _is_int(args[0]):
            self._items(args[0])
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            if _is_int(tabsize):
                self._items(len(text) + text.count("\t" if isinstance(text, str) else b"\t") * tabsize)
        elif name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            if isinstance(old, type(text)) and isinstance(new, type(text)):
                self._items(len(text) + text.count(old) * max(len(new) - len(old), 0))
        elif name == "translate" and args and isinstance(args[0], dict):
            longest = max((len(value) for value in args[0].values() if isinstance(value, str)), default=1)
            self._items(len(text) * longest)
        elif name == "join" and args:
            parts = list(args[0])  # an iterator is read once, here
            self._items(sum(len(part) for part in parts if isinstance(part, (str, bytes)))
                        + len(text) * max(len(parts) - 1, 0))
            args = (parts, *args[1:])
        return getattr(text, name)(*args, **kwargs)


_INPLACE = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "@=": operator.imatmul,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand, "|=": operator.ior,
    "^=": operator.ixor,
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _single_iter(obj: Any, *sentinel: Any) -> Any:
    # iter(callable, sentinel) can be an endless iterator consumed entirely in C (list(iter(int, 1))).
    if sentinel:
        raise LimitExceeded("不支持 iter(函数, 哨兵值) 的写法")
    return iter(obj)


def _numeric_sum(values: Iterable[Any], start: Any = 0) -> Any:
    # sum(lists, []) copies quadratically in one C call; diagrams add up numbers and durations.
    if not isinstance(start, _NUMBERS):
        raise LimitExceeded("sum 只能对数值或时长求和")
    return sum(values, start)


_GUARDED_OPS: dict[type[ast.operator], str] = {
    ast.Pow: "_pow_", ast.Mult: "_mul_", ast.Add: "_add_", ast.LShift: "_lshift_", ast.Mod: "_mod_",
}


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    call = ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=args, keywords=[])
    return ast.fix_missing_locations(ast.copy_location(call, like))


def _tick(like: ast.AST) -> ast.Expr:
    return ast.fix_missing_locations(ast.copy_location(ast.Expr(value=_call("_tick_", [], like)), like))


class BudgetTransformer(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus the calls that keep the text within its Meter's budget. The nodes
    added here are not visited again, so their underscore names are not refused."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = super().visit_BinOp(node)
        name = _GUARDED_OPS.get(type(node.op))
        return _call(name, [node.left, node.right], node) if name else node

    def visit_While(self, node: ast.While) -> ast.AST:
        node = super().visit_While(node)
        node.body.insert(0, _tick(node))
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        node = super().visit_For(node)
        node.body.insert(0, _tick(node))
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.AST:
        node = super().visit_comprehension(node)
        node.ifs.insert(0, _call("_tick_", [], node.iter))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick(node))  # recursion without loops: f(n-1) + f(n-1)
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        node = super().visit_Lambda(node)
        node.body = ast.fix_missing_locations(ast.copy_location(
            ast.BoolOp(op=ast.And(), values=[_call("_tick_", [], node), node.body]), node.body))
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        node = super().visit_FormattedValue(node)
        if node.format_spec is None:
            return node
        spec = node.format_spec
        call = _call("_format_", [node.value, ast.Constant(node.conversion), spec], node)
        return ast.copy_location(ast.FormattedValue(value=call, conversion=-1, format_spec=None), node)


# ---- refused before deployment ------------------------------------------------------------------------


class _NotConstant(Exception):
    pass


_FOLDABLE: dict[type[ast.operator], Callable[[Meter], Callable[[Any, Any], Any]]] = {
    ast.Pow: lambda meter: meter.pow, ast.Mult: lambda meter: meter.mul, ast.Add: lambda meter: meter.add,
    ast.LShift: lambda meter: meter.lshift, ast.Sub: lambda meter: operator.sub,
}


def _fold(node: ast.AST, meter: Meter) -> Any:
    """The value of a literal arithmetic expression, computed through the guards."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, str)):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_fold(item, meter) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_fold(node.operand, meter)
    if isinstance(node, ast.BinOp) and type(node.op) in _FOLDABLE:
        return _FOLDABLE[type(node.op)](meter)(_fold(node.left, meter), _fold(node.right, meter))
    raise _NotConstant


def _always_true(test: ast.expr) -> bool:
    return isinstance(test, ast.Constant) and bool(test.value)


def _leaves(body: list[ast.stmt]) -> bool:
    """Whether a statement of this loop body (not of a nested loop or function) can end the loop."""
    pending = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Break, ast.Return, ast.Raise)):
            return True
        if isinstance(node, ast.FunctionDef):
            continue
        if isinstance(node, (ast.While, ast.For)):  # their break ends them, not us; their else is ours
            pending.extend(node.orelse)
            continue
        pending.extend(child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt | ast.excepthandler))
    return False


def unbounded_problems(tree: ast.AST) -> set[tuple[int | None, str]]:
    """What is certain to exceed any budget, found without running: a loop that cannot end, and literal
    arithmetic whose result is over the default caps."""
    problems = set()
    meter = Meter(Budget())
    for node in ast.walk(tree):
        if isinstance(node, ast.While) and _always_true(node.test) and not _leaves(node.body):
            problems.add((node.lineno, "循环条件恒为真且循环中没有 break，会无限循环"))
        elif isinstance(node, ast.BinOp):
            try:
                _fold(node, meter)
            except LimitExceeded as exceeded:
                problems.add((node.lineno, str(exceeded)))
            except (_NotConstant, ArithmeticError, TypeError, ValueError):
                pass
    return problems
