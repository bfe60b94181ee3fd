"""What a decider sees: the facts a task's diagram lists for it (`context_fields`, engine/bpmn/case_fields.py)
shown with their labels and option names, and the decision each earlier completion recorded (同意 / 退回 …).

Read from the cached parsed deployment and case data (masked by the caller as its reader may see it),
never from a deserialised case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.bpmn.case_fields import DECISION, context_fields, user_task_properties
from engine.bpmn.deployments import LoadedSpec
from engine.bpmn.forms import FormField

NOT_GIVEN = "未填写"
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)")
# the record shape duplicates.find writes: items to compare, each linked to its case
_ITEM_KEYS = ("registration_number", "case_id")


def deployed_fields(loaded: LoadedSpec) -> dict[str, FormField]:
    """Every form field of the deployment by id (the first form that has it): labels and option names."""
    found: dict[str, FormField] = {}
    for task in _user_tasks(loaded):
        for field in task.xinfang_form.fields:
            found.setdefault(field.id, field)
    return found


def _user_tasks(loaded: LoadedSpec) -> list[Any]:
    return [task for spec in (loaded.spec, *loaded.subprocess_specs.values()) for task in spec.task_specs.values()
            if hasattr(task, "xinfang_form")]


def shown(field: FormField | None, value: Any) -> str:
    """A stored value as staff read it: an option's name, 是/否, or the text."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if field is not None and field.options:
        return next((option.name for option in field.options if option.id == value), str(value))
    return str(value)


def decision_context(task: Any, fields: Mapping[str, FormField], data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The facts `task` declares, in order: {label, kind, value}; kind `deadline` (an instant, for the
    page's deadline format), `items` (records to compare: number, date, accused, summary, case), `empty`
    or `text`."""
    entries = []
    for declared in context_fields(user_task_properties(task)):
        field = fields.get(declared.id)
        label = declared.label or (field.label if field else declared.id)
        value = data.get(declared.id)
        if value in (None, "", []):
            entries.append({"label": label, "kind": "empty", "value": NOT_GIVEN})
        elif isinstance(value, list) and all(isinstance(v, Mapping) and all(k in v for k in _ITEM_KEYS)
                                             for v in value):
            entries.append({"label": label, "kind": "items", "value": list(value)})
        elif isinstance(value, str) and _INSTANT.fullmatch(value):
            entries.append({"label": label, "kind": "deadline", "value": value})
        elif isinstance(value, list):
            entries.append({"label": label, "kind": "text", "value": "、".join(shown(field, v) for v in value)})
        else:
            entries.append({"label": label, "kind": "text", "value": shown(field, value)})
    return entries


def decision_of(task: Any, submitted: Mapping[str, Any]) -> dict[str, str] | None:
    """What a completion of `task` decided, from its declared `decision` field: {label, value}."""
    field_id = user_task_properties(task).get(DECISION, "").strip()
    if not field_id or submitted.get(field_id) in (None, ""):
        return None
    field = task.xinfang_form.field(field_id)
    return {"label": field.label if field else field_id, "value": shown(field, submitted[field_id])}

