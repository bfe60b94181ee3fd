"""Between HTML forms and the engine's form fields: what a browser posts becomes the submission the
engine validates, and what was typed is given back to the page when validation fails."""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from engine.api import ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES, Form

_ROW = re.compile(r"^(?P<group>[a-z_][a-z0-9_]*)\.(?P<index>\d{1,3})\.(?P<key>[a-z_][a-z0-9_]*)$", re.IGNORECASE)


def submission(form: Form, posted: MultiDict) -> dict[str, Any]:
    """The form's own fields from a post (CSRF token and buttons left out); repeating records arrive as
    `accused.0.name` … and become `accused: [{name: …}, …]` in row order."""
    data: dict[str, Any] = {}
    for field in form.single_fields():
        if field.id in posted:
            data[field.id] = posted.get(field.id)
    groups = form.groups()
    rows: dict[str, dict[int, dict[str, str]]] = {key: {} for key in groups}
    for name, value in posted.items(multi=False):
        match = _ROW.match(name)
        if match and match["group"] in groups:
            rows[match["group"]].setdefault(int(match["index"]), {})[match["key"]] = value
    for key, by_index in rows.items():
        data[key] = [by_index[index] for index in sorted(by_index)]
    return data


def initial_values(form: Form, case_data: dict[str, Any], confidential_masked: bool) -> dict[str, Any]:
    """What a fresh form shows: its defaults, and the case's current value only where the diagram marks
    the field `carry_over` (a proposal or report being revised). Every other field opens empty on every
    round: earlier answers, and other people's opinions, are shown beside the form, never in it. A masked
    reporter field is shown empty rather than with the mask."""
    values: dict[str, Any] = {}
    for field in form.single_fields():
        carried = field.carry_over and field.id in case_data and not (field.confidential and confidential_masked)
        if carried:
            value = case_data[field.id]
            values[field.id] = "\n".join(value) if isinstance(value, list) else value
        elif field.default is not None:
            values[field.id] = field.default
    for key, fields in form.groups().items():
        carried = any(f.carry_over for f in fields) and isinstance(case_data.get(key), list)
        values[key] = case_data[key] if carried else []
    return values


def row_errors(errors: dict[str, str], group: str) -> dict[int, dict[str, str]]:
    """Per-row messages of a repeating record (`accused.0.name` → {0: {"name": …}})."""
    found: dict[int, dict[str, str]] = {}
    for name, message in errors.items():
        match = _ROW.match(name)
        if match and match["group"] == group:
            found.setdefault(int(match["index"]), {})[match["key"]] = message
    return found


def upload_limits() -> dict[str, Any]:
    """What a page's file inputs accept and say about size."""
    return {"accept": ",".join(sorted(ATTACHMENT_TYPES)), "max_mb": MAX_ATTACHMENT_BYTES // (1024 * 1024)}
