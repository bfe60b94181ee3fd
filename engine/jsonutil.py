"""JSON for case data shown to people and for audit payloads: dates, decimals and sets made plain,
and one canonical text form so hashes are reproducible."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(item) for item in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def canonical(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def data_delta(before: dict, after: dict) -> dict:
    """What a command changed in the case data, for the audit log."""
    before_plain, after_plain = jsonable(before), jsonable(after)
    changed = {key: value for key, value in after_plain.items() if before_plain.get(key, object()) != value}
    removed = sorted(key for key in before_plain if key not in after_plain)
    delta: dict = {}
    if changed:
        delta["changed"] = changed
    if removed:
        delta["removed"] = removed
    return delta
