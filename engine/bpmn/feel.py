"""The simple FEEL of Camunda decision tables, rewritten to Python for the restricted evaluator.

Input entries are unary tests against the column's value, which the Python text reads as `cellInput`
(the name Camunda gives it in JUEL entries): `-` (any), `"a","b"`, `5`, `true`, `null`, `< 5`, `>= x`,
`[1..3]`, `]1..3[`, `(1..3]`, and `not(...)` around any of them. JUEL entries (`${cellInput > 5}`) are
translated as other diagram text. Everything else FEEL can say (functions, `?`, date and time
literals, ranges over text) is refused with a message naming it, never guessed at.

Private helper of ``engine.bpmn.decisions``.
"""

from __future__ import annotations

import re

from engine.bpmn.camunda_text import to_python_expression

INPUT = "cellInput"
ANY = "-"


class FeelRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<range>\.\.)
    | (?P<compare><=|>=|<|>)
    | (?P<punct>[\[\](),])
    | (?P<name>[^\W\d][\w]*(?:\.[^\W\d][\w]*)*)
    )""", re.VERBOSE)
_LITERAL_NAMES = {"true": "True", "false": "False", "null": "None"}
_SUPPORTED = '只支持 -、"a","b"、数字、true/false、null、< 5、>= x、[1..3]、]1..3[ 和 not(...)'


def _tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FeelRefused(f"不支持的 FEEL 写法：{text.strip()}（{_SUPPORTED}）")
        kind = match.lastgroup
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


def _endpoint(kind: str, value: str, text: str) -> str:
    if kind in ("string", "number"):
        return value
    if kind == "name":
        if value in ("not", "date", "time", "duration"):
            raise FeelRefused(f"不支持的 FEEL 写法：{text}（{_SUPPORTED}）")
        return _LITERAL_NAMES.get(value, value)
    raise FeelRefused(f"不支持的 FEEL 写法：{text}（{_SUPPORTED}）")


def _positive(tokens: list[tuple[str, str]], text: str) -> str:
    """One positive unary test (no commas) as a Python condition on `cellInput`."""
    kinds = [kind for kind, _ in tokens]
    if len(tokens) == 1:
        kind, value = tokens[0]
        return f"{INPUT} == {_endpoint(kind, value, text)}"
    if kinds[0] == "compare" and len(tokens) == 2:
        return f"{INPUT} {tokens[0][1]} {_endpoint(*tokens[1], text)}"
    if len(tokens) == 5 and kinds[2] == "range" and tokens[0][1] in "[](" and tokens[4][1] in "[])":
        low, high = _endpoint(*tokens[1], text), _endpoint(*tokens[3], text)
        low_op = "<=" if tokens[0][1] == "[" else "<"
        high_op = "<=" if tokens[4][1] == "]" else "<"
        return f"{low} {low_op} {INPUT} {high_op} {high}"
    raise FeelRefused(f"不支持的 FEEL 写法：{text}（{_SUPPORTED}）")


def _split(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    """Split at commas: a supported test holds none (intervals use `..`), and a function call, whose
    arguments would, is refused anyway."""
    parts: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token == ("punct", ","):
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def unary_test(text: str | None) -> str:
    """An input entry as a Python condition on `cellInput`, or `-` when it matches anything."""
    stripped = (text or "").strip()
    if stripped in ("", ANY):
        return ANY
    if "${" in stripped or "#{" in stripped:
        return to_python_expression(stripped)
    negated = re.fullmatch(r"not\s*\((.*)\)", stripped, re.DOTALL)
    if negated:
        inner = unary_test(negated.group(1))
        if inner == ANY:
            raise FeelRefused(f"不支持的 FEEL 写法：{stripped}（{_SUPPORTED}）")
        return f"not ({inner})"
    tokens = _tokens(stripped)
    parts = _split(tokens)
    if any(not part for part in parts):
        raise FeelRefused(f"不支持的 FEEL 写法：{stripped}（{_SUPPORTED}）")
    tests = [_positive(part, stripped) for part in parts]
    return tests[0] if len(tests) == 1 else " or ".join(f"({test})" for test in tests)


def expression(text: str | None) -> str:
    """An input expression or output entry (a literal, a name, simple arithmetic, or JUEL) as Python."""
    stripped = (text or "").strip()
    if not stripped:
        return ""
    if stripped in _LITERAL_NAMES:
        return _LITERAL_NAMES[stripped]
    return to_python_expression(stripped)
