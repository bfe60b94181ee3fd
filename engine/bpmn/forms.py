"""User-task forms declared with Camunda 7 `camunda:formData`, validated on the server.

Browsers and API clients are never trusted: `validate_submission` lets only declared fields into case data.

* Types: Camunda's string/long/boolean/date/enum plus text (multi-line), decimal, datetime and list (of
  strings). Dates are ISO YYYY-MM-DD, not Camunda's dd/MM/yyyy.
* Constraints: required, readonly, minlength, maxlength, min, max. On date/datetime fields min/max are ISO
  dates (`min_date`/`max_date`; a datetime is bounded by its Shanghai date), on numbers Decimals. Unknown
  constraints and unparsable configs are kept in `invalid_constraints` and rejected by `form_checks.form_problems` at
  deploy time, so a modeller never believes a rule is enforced when it is not.
* Defaults are a presentation hint; the server never fills them in.
* Read-only fields never reach the cleaned data; a submitted one must equal its default.
* Repeating records: fields with dotted ids (`accused.name`, `accused.unit`) form a group, submitted and
  stored as a list of records (`accused: [{"name": …, "unit": …}, …]`); blank records are dropped, a group
  with a required field needs at least one record, errors are keyed `accused.0.name`.
* A missing optional boolean is False (unchecked checkboxes are not posted); a required one must be sent,
  and an explicit false counts as an answer.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

TYPES = frozenset({"string", "text", "long", "decimal", "boolean", "date", "datetime", "enum", "list"})
TEXT_TYPES = frozenset({"string", "text"})
NUMBER_TYPES = frozenset({"long", "decimal"})
DATE_TYPES = frozenset({"date", "datetime"})

# \d is deliberately Unicode-aware: full-width digits typed with a Chinese IME are accepted.
_INT_RE = re.compile(r"[+-]?\d+")
_DECIMAL_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATETIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}")
_BOOLEANS = {"true": True, "on": True, "1": True, "是": True}
_BOOLEANS |= {"false": False, "off": False, "0": False, "否": False}

TODAY = "today"  # a date bound meaning the day of the submission
REQUIRED = "此项为必填项"
UNKNOWN_FIELD = "表单中没有此字段"
READONLY = "只读字段不能修改"


@dataclass(frozen=True)
class Option:
    id: str
    name: str


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str
    required: bool = False
    readonly: bool = False
    min_length: int | None = None
    max_length: int | None = None
    min: Decimal | None = None  # long / decimal fields
    max: Decimal | None = None
    min_date: date | None = None  # date / datetime fields
    max_date: date | None = None
    default: str | None = None
    options: tuple[Option, ...] = ()
    properties: Mapping[str, str] = dc_field(default_factory=dict)  # all camunda:properties, e.g. help, rows
    confidential: bool = False  # reporter identity: callers must mask it in logs and listings
    # Property `required_when` = "other_field=value[,value…]": required only while that single enum or
    # boolean field of the same form has one of those values (e.g. a report's findings, not when the
    # handler asks for more time). None without the property; ("", ()) when it does not parse.
    required_when: tuple[str, tuple[str, ...]] | None = None
    # Properties `not_before` / `not_after` on date fields = "today" or ids of date fields, of this form or
    # of an earlier task (e.g. a notice not before `received_on`); each is skipped while its value is unknown.
    not_before: tuple[str, ...] = ()
    not_after: tuple[str, ...] = ()
    # Property `carry_over` = "true": the form opens with the case's current value of the field (a proposal
    # being revised). Without it a field opens empty (or with its default) on every round.
    carry_over: bool = False
    # (constraint name, config) pairs that could not be understood; only form_problems reads them.
    invalid_constraints: tuple[tuple[str, str | None], ...] = ()

    @property
    def group(self) -> str | None:
        """The list a dotted field belongs to (`accused` for `accused.name`)."""
        return self.id.split(".", 1)[0] if "." in self.id else None

    @property
    def key(self) -> str:
        """The field's key inside its record (`name` for `accused.name`), or its id."""
        return self.id.split(".", 1)[1] if "." in self.id else self.id


@dataclass(frozen=True)
class Form:
    fields: tuple[FormField, ...] = ()

    def field(self, field_id: str) -> FormField | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def groups(self) -> dict[str, tuple[FormField, ...]]:
        """Repeating records by list key, each with its fields (ids still dotted)."""
        found: dict[str, list[FormField]] = {}
        for f in self.fields:
            if f.group:
                found.setdefault(f.group, []).append(f)
        return {key: tuple(fields) for key, fields in found.items()}

    def single_fields(self) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if not f.group)

    def required_hint(self, field: FormField) -> str:
        """When a conditionally required field must be filled in, in words: 本次提交为“提交调查报告”时必填."""
        other = self.field(field.required_when[0]) if field.required_when else None
        if other is None:
            return ""
        names = {option.id: option.name for option in other.options} | {"true": "是", "false": "否"}
        values = "或".join(f"“{names.get(value, value)}”" for value in field.required_when[1])
        return f"{other.label}为{values}时必填"


class FormErrors(Exception):
    """All problems of one submission: field id -> Chinese message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        detail = "；".join(f"{key}：{msg}" for key, msg in errors.items())
        super().__init__(f"表单有 {len(errors)} 处错误：{detail}")


class InvalidValue(ValueError):
    pass


_MISSING = object()  # "no value", distinct from every cleaned value (None, False, 0 included)


def _parse_length(config: str | None) -> int | None:
    text = (config or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _parse_decimal(config: str | None) -> Decimal | None:
    try:
        value = Decimal((config or "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _parse_date(config: str | None) -> date | None:
    text = (config or "").strip()
    try:
        return date.fromisoformat(text) if _DATE_RE.fullmatch(text) else None
    except ValueError:
        return None


def _field_from_spiff(spiff_field: Any) -> FormField:
    field_id = spiff_field.id or ""
    field_type = spiff_field.type or ""
    values: dict[str, Any] = {}
    invalid: list[tuple[str, str | None]] = []
    for rule in spiff_field.validation:
        name, config = rule.name, rule.config
        if name in ("required", "readonly"):
            values[name] = True
            continue
        if name in ("minlength", "maxlength"):
            attr, parsed = f"{name[:3]}_length", _parse_length(config)
        elif name in ("min", "max") and field_type in DATE_TYPES:
            attr, parsed = f"{name}_date", _parse_date(config)
        elif name in ("min", "max"):
            attr, parsed = name, _parse_decimal(config)
        else:
            attr, parsed = None, None
        if parsed is None:
            invalid.append((name or "", config))
        else:
            values[attr] = parsed
    properties = {p.id: p.value or "" for p in spiff_field.properties if p.id}
    return FormField(
        id=field_id,
        label=spiff_field.label or field_id,
        type=field_type,
        default=spiff_field.default_value or None,
        # Only SpiffWorkflow's EnumFormField has `options`.
        options=tuple(Option(o.id or "", o.name or o.id or "") for o in getattr(spiff_field, "options", ())),
        properties=properties,
        confidential=_flag(properties, "confidential"),
        carry_over=_flag(properties, "carry_over"),
        required_when=_parse_condition(properties["required_when"]) if "required_when" in properties else None,
        not_before=_ids(properties.get("not_before")),
        not_after=_ids(properties.get("not_after")),
        invalid_constraints=tuple(invalid),
        **values,
    )


FLAGS = ("confidential", "carry_over")  # properties that are "true" or "false"


def _flag(properties: Mapping[str, str], name: str) -> bool:
    return properties.get(name, "").strip().lower() == "true"


def _ids(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def _parse_condition(text: str) -> tuple[str, tuple[str, ...]]:
    other, _, values = text.partition("=")
    parsed = tuple(value.strip() for value in values.split(",") if value.strip())
    return (other.strip(), parsed) if other.strip() and parsed else ("", ())


def form_from_spiff(spiff_form: Any) -> Form:
    """Convert a `SpiffWorkflow.camunda.specs.user_task.Form`; bad config is left to `form_problems`."""
    return Form(tuple(_field_from_spiff(f) for f in spiff_form.fields))


def _coerce(field: FormField, raw: Any) -> Any:
    kind = field.type
    if kind in TEXT_TYPES:
        if not isinstance(raw, str):
            raise InvalidValue("应为文本")
        return raw
    if kind == "long":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and _INT_RE.fullmatch(raw):
            return int(raw)
        raise InvalidValue("应为整数")
    if kind == "decimal":
        if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
            # str() of a float gives its shortest repr, avoiding binary-expansion noise in the Decimal.
            value = Decimal(str(raw))
            if value.is_finite():
                return value
        elif isinstance(raw, str) and _DECIMAL_RE.fullmatch(raw):
            return Decimal(raw)
        raise InvalidValue("应为数字")
    if kind == "boolean":
        if isinstance(raw, int) and raw in (0, 1):  # bools included
            return bool(raw)
        if isinstance(raw, str) and raw.lower() in _BOOLEANS:
            return _BOOLEANS[raw.lower()]
        raise InvalidValue("是/否 取值无效")
    if kind == "date":
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        parsed = _parse_date(raw) if isinstance(raw, str) else None
        if parsed is None:
            raise InvalidValue("应为日期（YYYY-MM-DD）")
        return parsed
    if kind == "datetime":
        value = raw if isinstance(raw, datetime) else None
        if isinstance(raw, str) and _DATETIME_RE.match(raw):
            with contextlib.suppress(ValueError):
                value = datetime.fromisoformat(raw)
        if value is None:
            raise InvalidValue("应为日期时间（YYYY-MM-DD HH:MM）")
        # Petition deadlines are counted in Beijing time; normalising keeps stored values comparable.
        return value.replace(tzinfo=SHANGHAI) if value.tzinfo is None else value.astimezone(SHANGHAI)
    if kind == "enum":
        if isinstance(raw, str) and any(o.id == raw for o in field.options):
            return raw
        raise InvalidValue("请从可选项中选择")
    if kind == "list":
        items = raw.splitlines() if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            raise InvalidValue("应为文本列表")
        cleaned = [i.strip() for i in items if i.strip()]
        return cleaned or _MISSING
    raise ValueError(f"字段 {field.id}：未知类型 {kind}（部署前应由 form_problems 拦截）")


def _check_bounds(field: FormField, value: Any) -> None:
    if field.type in TEXT_TYPES:
        if field.min_length is not None and len(value) < field.min_length:
            raise InvalidValue(f"不能少于 {field.min_length} 个字符")
        if field.max_length is not None and len(value) > field.max_length:
            raise InvalidValue(f"不能超过 {field.max_length} 个字符")
    elif field.type in NUMBER_TYPES:
        if field.min is not None and value < field.min:
            raise InvalidValue(f"不能小于 {field.min}")
        if field.max is not None and value > field.max:
            raise InvalidValue(f"不能大于 {field.max}")
    elif field.type in DATE_TYPES:
        day = value.date() if isinstance(value, datetime) else value
        if field.min_date is not None and day < field.min_date:
            raise InvalidValue(f"不能早于 {field.min_date.isoformat()}")
        if field.max_date is not None and day > field.max_date:
            raise InvalidValue(f"不能晚于 {field.max_date.isoformat()}")


def clean_value(field: FormField, raw: Any) -> Any:
    """The cleaned value, or _MISSING for an empty one; raises InvalidValue with a user message."""
    if raw is None:
        return _MISSING
    if isinstance(raw, str):
        # Browsers send textarea line breaks as CRLF; count each as one character.
        raw = raw.replace("\r\n", "\n").strip()
        if not raw:
            return _MISSING
    value = _coerce(field, raw)
    if value is not _MISSING:
        _check_bounds(field, value)
    return value


def _readonly_untouched(field: FormField, raw: Any) -> bool:
    # Disabled inputs are not posted at all, so absence is fine; anything sent must equal the default.
    try:
        value = clean_value(field, raw)
        return value is _MISSING or value == clean_value(field, field.default)
    except InvalidValue:
        return False


@dataclass(frozen=True)
class Circumstances:
    """What a submission is checked against besides itself, for `not_before` / `not_after`: the day it is
    made (the injected clock's, in Shanghai) and the case's values, with their fields' labels for messages."""

    today: date
    data: Mapping[str, Any] = dc_field(default_factory=dict)
    labels: Mapping[str, str] = dc_field(default_factory=dict)

    @classmethod
    def at(cls, now: datetime, data: Mapping[str, Any] | None = None,
           labels: Mapping[str, str] | None = None) -> Circumstances:
        """Circumstances of a submission made at `now` (aware): its day is the Shanghai calendar day."""
        return cls(now.astimezone(SHANGHAI).date(), data or {}, labels or {})


def validate_submission(form: Form, submitted: Mapping[str, Any],
                        circumstances: Circumstances | None = None) -> dict[str, Any]:
    """Cleaned data for `submitted`, or `FormErrors` listing every problem at once. A form with date
    bounds needs `circumstances`."""
    groups = form.groups()
    errors = {str(key): UNKNOWN_FIELD for key in submitted
              if key not in groups and (form.field(key) is None or "." in str(key))}
    cleaned = _clean_fields(form.single_fields(), submitted, errors)
    _check_order(form, cleaned, errors, circumstances)
    for key, fields in groups.items():
        records = _clean_group(key, fields, submitted.get(key), errors)
        if records:
            cleaned[key] = records
    if errors:
        raise FormErrors(errors)
    return cleaned


def _check_order(form: Form, cleaned: dict[str, Any], errors: dict[str, str],
                 circumstances: Circumstances | None) -> None:
    """A date against its `not_before` / `not_after` bounds: today, or another date of this submission or
    of the case (an intake received in the future, a notice dated before receipt)."""
    for field in form.single_fields():
        if field.id in errors or field.id not in cleaned:
            continue
        day = _as_day(cleaned[field.id])
        for refs, after, words in ((field.not_before, False, "早于"), (field.not_after, True, "晚于")):
            for ref in refs:
                bound, name = _bound(form, ref, cleaned, circumstances)
                if bound is not None and (day < bound if not after else day > bound):
                    errors[field.id] = f"不能{words}{name}（{bound.isoformat()}）"


def _bound(form: Form, ref: str, cleaned: Mapping[str, Any], circumstances: Circumstances | None
           ) -> tuple[date | None, str]:
    if ref == TODAY:
        if circumstances is None:  # a caller's mistake: the engine's clock, never the machine's, says today
            raise ValueError("not_after/not_before=today needs Circumstances")
        return circumstances.today, "今天"
    known = circumstances or Circumstances(date.min)
    other = form.field(ref)
    value = cleaned[ref] if ref in cleaned else known.data.get(ref)
    return _as_day(value), other.label if other else known.labels.get(ref, ref)


def _as_day(value: Any) -> date | None:
    """The Shanghai calendar day of a cleaned or stored date/datetime (stored ones may be ISO text)."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(value) if "T" in value or " " in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    return value if isinstance(value, date) else None


def _clean_group(key: str, fields: tuple[FormField, ...], raw: Any, errors: dict[str, str]) -> list[dict]:
    if raw is None:
        raw = []
    if not isinstance(raw, (list, tuple)) or not all(isinstance(r, Mapping) for r in raw):
        errors[key] = "应为记录列表"
        return []
    by_key = {f.key: f for f in fields}
    records = []
    for index, record in enumerate(raw):
        if all(_is_blank(value) for value in record.values()):
            continue  # an empty row the browser sent along
        record_errors: dict[str, str] = {}
        for name in record:
            if name not in by_key:
                record_errors[str(name)] = UNKNOWN_FIELD
        values = _clean_fields(fields, {f.id: record.get(f.key) for f in fields}, record_errors)
        errors.update({f"{key}.{index}.{name.split('.', 1)[-1]}": msg for name, msg in record_errors.items()})
        records.append({name.split(".", 1)[1]: value for name, value in values.items()})
    if not records and any(f.required for f in fields):
        errors[key] = "至少填写一条"
    return records


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean_fields(fields: tuple[FormField, ...], submitted: Mapping[str, Any], errors: dict[str, str]) -> dict:
    cleaned: dict[str, Any] = {}
    for field in fields:
        raw = submitted.get(field.id)
        if field.readonly:
            if not _readonly_untouched(field, raw):
                errors[field.id] = READONLY
            continue
        try:
            value = clean_value(field, raw)
        except InvalidValue as exc:
            errors[field.id] = str(exc)
            continue
        if value is not _MISSING:
            cleaned[field.id] = value
        elif _required(field, fields, submitted):
            errors[field.id] = REQUIRED
        elif field.type == "boolean":
            # An unchecked HTML checkbox is simply absent from the post.
            cleaned[field.id] = False
    return cleaned


def _required(field: FormField, fields: tuple[FormField, ...], submitted: Mapping[str, Any]) -> bool:
    if field.required_when is None:
        return field.required
    other_id, values = field.required_when
    other = next((f for f in fields if f.id == other_id), None)
    if other is None:
        return False
    try:
        value = clean_value(other, submitted.get(other_id))
    except InvalidValue:
        return False  # the other field's own error says what to fix first
    if isinstance(value, bool):
        value = "true" if value else "false"
    return value is not _MISSING and value in values
