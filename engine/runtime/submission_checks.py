"""Checks of a submission against the case, made at submit inside the completing command, after the form's
own cleaning (engine/bpmn/forms.py): a number bounded by a case field (`max_from`, e.g. the remaining
extension allowance), an option allowed only while a case field is above 0 (`options_while`: no extension
request once the allowance is used up) and a value a registered handler must accept (`check_with`, e.g. a registration
number that names an item this one can be linked to). Problems come back per field as `FormErrors`, so
the task stays open with the input kept and nothing advances. Declared and checked at deploy in
engine/bpmn/case_fields.py.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.bpmn.case_fields import CHECK_WITH, MAX_FROM, declared_label, options_while
from engine.bpmn.forms import Form, FormErrors

# (handler name, field properties, case data with the submission) -> the error message, or None
Checker = Callable[[str, Mapping[str, str], Mapping[str, Any]], str | None]


def check(form: Form, cleaned: Mapping[str, Any], data: Mapping[str, Any], task_properties: Mapping[str, str],
          run_check: Checker) -> None:
    """Raise FormErrors for each submitted value over its bound or refused by its check handler.
    `data`: the task's case data before the submission; `task_properties`: the task's camunda:properties
    (the bound's label comes from its `context_fields`)."""
    errors: dict[str, str] = {}
    merged = {**data, **cleaned}
    for field in form.single_fields():
        if field.id not in cleaned:
            continue
        bound_id = field.properties.get(MAX_FROM, "").strip()
        bound = _number(data.get(bound_id)) if bound_id else None
        if bound is not None and cleaned[field.id] > bound:
            errors[field.id] = f"不能超过{declared_label(task_properties, bound_id) or bound_id}（{bound}）"
            continue
        gates = options_while(field.properties)  # keyed by option id: only a single choice can hit one
        gate = gates.get(cleaned[field.id]) if gates and isinstance(cleaned[field.id], str) else None
        remaining = _number(data.get(gate)) if gate else None
        if remaining is not None and remaining <= 0:
            option = next((o.name for o in field.options if o.id == cleaned[field.id]), cleaned[field.id])
            errors[field.id] = f"{declared_label(task_properties, gate) or gate}为 {remaining}，不能选择“{option}”"
            continue
        handler = field.properties.get(CHECK_WITH, "").strip()
        message = run_check(handler, field.properties, merged) if handler else None
        if message:
            errors[field.id] = message
    if errors:
        raise FormErrors(errors)


def _number(value: Any) -> Decimal | None:
    """A bound as stored in case data (a number, or text after a JSON round trip); None when unknown."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
