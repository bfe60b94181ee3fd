"""Camunda 7 text -> Python source: JUEL expressions (engine.bpmn.juel) and unquoted ISO 8601 timer literals.

Private helper of ``engine.bpmn.expressions``; import the public names from there.
"""

import re
from datetime import datetime, timedelta, timezone

from engine.bpmn import juel
from engine.timing.cron import looks_like_cron

# Shanghai has had no daylight saving time since 1991, so a fixed offset is exact for any timer
# a diagram can still contain and does not depend on the host's tzdata.
_SHANGHAI = timezone(timedelta(hours=8))


_DURATION = r"P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?"
_TIME = r"(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?"
_DATE_TIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_PART = rf"(?:{_DURATION}{_TIME}|{_DATE_TIME})"
_SINGLE = re.compile(_PART)
_CYCLE = re.compile(rf"R\d*/{_PART}(?:/{_PART})?")


def to_python_expression(text: str) -> str:
    """Translate a Camunda (JUEL) expression or composite text to Python; valid Python comes back unchanged."""
    try:
        return juel.to_python(text)
    except (RecursionError, MemoryError):  # nested too deep to translate: left as written, the check refuses it
        return text


def to_python_timer(text: str) -> str:
    """Translate timeDate / timeDuration / timeCycle text to a Python expression yielding the ISO string."""
    stripped = text.strip()
    if "${" in stripped or "#{" in stripped:  # an expression, or composite text such as P${days}D
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
