"""Camunda 7 text -> Python source: JUEL expressions and unquoted ISO 8601 timer literals.

Private helper of ``engine.bpmn.expressions``; import the public names from there.
"""

import io
import re
import tokenize
from datetime import datetime, timedelta, timezone

from engine.timing.cron import looks_like_cron

# Shanghai has had no daylight saving time since 1991, so a fixed offset is exact for any timer
# a diagram can still contain and does not depend on the host's tzdata.
_SHANGHAI = timezone(timedelta(hours=8))

_WRAPPER = re.compile(r"[$#]\{(.*)\}", re.DOTALL)
_LITERALS = {"true": "True", "false": "False", "null": "None"}

_DURATION = r"P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?"
_TIME = r"(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?"
_DATE_TIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_PART = rf"(?:{_DURATION}{_TIME}|{_DATE_TIME})"
_SINGLE = re.compile(_PART)
_CYCLE = re.compile(rf"R\d*/{_PART}(?:/{_PART})?")


def to_python_expression(text: str) -> str:
    """Translate a Camunda (JUEL) expression to Python; valid Python comes back unchanged."""
    wrapped = _WRAPPER.fullmatch(text.strip())
    source = wrapped.group(1) if wrapped else text
    # Edits are applied to the original text by position, so strings and spacing stay exactly as written.
    line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def offset(position: tuple[int, int]) -> int:
        return line_starts[position[0] - 1] + position[1]

    edits: list[tuple[int, int, str]] = []
    previous: tokenize.TokenInfo | None = None
    for token in _tokens(source):
        doubled = previous is not None and previous.string == token.string and previous.end == token.start
        if token.string in ("&", "|") and doubled:
            edits.append((offset(previous.start), offset(token.end), "and" if token.string == "&" else "or"))
            previous = None  # "&&&&" is two operators, not three
            continue
        if token.string == "!":  # "!=" is a single token, so this is JUEL's negation
            edits.append((offset(token.start), offset(token.end), "not"))
        elif token.type == tokenize.NAME and token.string in _LITERALS and not _after_dot(previous):
            edits.append((offset(token.start), offset(token.end), _LITERALS[token.string]))
        previous = token

    result, done = [], 0
    for start, end, word in edits:
        left = right = ""
        if word in ("and", "or", "not"):  # operators written without spaces ("a&&!b") need them in Python
            before, after = source[start - 1: start], source[end: end + 1]
            left = " " if before.strip() and before not in "([{" and start != done else ""
            right = " " if after.strip() and after not in ")]}" else ""
        result += [source[done:start], left, word, right]
        done = end
    return "".join(result) + source[done:]


def _after_dot(previous: tokenize.TokenInfo | None) -> bool:
    return previous is not None and previous.string == "."  # obj.null is an attribute, not JUEL's null


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    tokens: list[tokenize.TokenInfo] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            tokens.append(token)
    except (tokenize.TokenError, SyntaxError):
        pass  # unbalanced text: translate what was read; compiling it will report the syntax error
    return tokens


def to_python_timer(text: str) -> str:
    """Translate timeDate / timeDuration / timeCycle text to a Python expression yielding the ISO string."""
    stripped = text.strip()
    if _WRAPPER.fullmatch(stripped):
        return to_python_expression(stripped)
    if _SINGLE.fullmatch(stripped):
        return repr(_aware(stripped))
    if looks_like_cron(stripped):  # a Quartz cron cycle, read by engine/runtime/timers.py
        return repr(stripped)
    if _CYCLE.fullmatch(stripped):
        repetitions, *parts = stripped.split("/")
        return repr("/".join([repetitions, *map(_aware, parts)]))
    return text


def _aware(part: str) -> str:
    """Give a date-time without offset the Shanghai offset (SpiffWorkflow would use the server's zone)."""
    if part.startswith("P"):
        return part
    try:
        moment = datetime.fromisoformat(part)
    except ValueError:
        return part  # e.g. month 13: stay a string so the timer parser reports it
    return part if moment.tzinfo else moment.replace(tzinfo=_SHANGHAI).isoformat()
