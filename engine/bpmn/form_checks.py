"""Deploy-time checks of user-task forms: a modeller never believes a rule is enforced when it is not.

`form_problems` checks one form (types, constraints, defaults, conditions, date bounds); an empty list means
it can be used; `shared_key_problems` checks that the user tasks of one deployment each write their own
keys. The submission itself is cleaned by `engine.bpmn.forms.validate_submission`.
"""

from __future__ import annotations

from collections.abc import Mapping

from engine.bpmn.forms import (
    DATE_TYPES,
    FLAGS,
    NUMBER_TYPES,
    TEXT_TYPES,
    TODAY,
    TYPES,
    Form,
    FormField,
    InvalidValue,
    clean_value,
)


def _condition_problems(form: Form, field: FormField) -> list[str]:
    other_id, values = field.required_when
    if not other_id:
        return [f"条件必填 required_when={field.properties['required_when']!r} 应写作 字段id=取值[,取值]"]
    other = form.field(other_id)
    if other is None or other.group or field.group:
        return [f"条件必填引用的字段 {other_id} 不是本表单的单个字段"]
    if field.required:
        return ["已设为必填（required），不能再设条件必填"]
    if other.type not in ("enum", "boolean"):
        return [f"条件必填只能引用枚举或是/否字段，{other_id} 是 {other.type}"]
    allowed = {o.id for o in other.options} if other.type == "enum" else {"true", "false"}
    return [f"条件必填的取值 {value!r} 不是字段 {other_id} 的可选项" for value in values if value not in allowed]


def _constraint_problem(field: FormField, name: str, config: str | None) -> str:
    expected = {"minlength": "非负整数", "maxlength": "非负整数", "min": "数字", "max": "数字"}.get(name)
    if expected == "数字" and field.type in DATE_TYPES:
        expected = "日期（YYYY-MM-DD）"
    return f"校验规则 {name} 的配置 {config!r} 不是{expected}" if expected else f"不支持的校验规则 {name!r}"


def _field_problems(field: FormField) -> list[str]:
    problems = [_constraint_problem(field, name, config) for name, config in field.invalid_constraints]
    if field.type not in TYPES:
        return [f"未知类型 {field.type!r}", *problems]
    if field.type == "enum":
        ids = [o.id for o in field.options]
        if not ids:
            problems.append("枚举字段没有可选项")
        if len(set(ids)) != len(ids):
            problems.append("可选项 id 重复")
    ranges = (
        ("minlength/maxlength", field.min_length, field.max_length, TEXT_TYPES),
        ("min/max", field.min, field.max, NUMBER_TYPES),
        ("min/max", field.min_date, field.max_date, DATE_TYPES),
    )
    for names, low, high, types in ranges:
        if (low is not None or high is not None) and field.type not in types:
            problems.append(f"校验规则 {names} 不适用于 {field.type} 类型")
        elif low is not None and high is not None and low > high:
            problems.append(f"校验规则 {names} 下限大于上限")
    if any(n is not None and n < 0 for n in (field.min_length, field.max_length)):
        problems.append("校验规则 minlength/maxlength 不能为负数")
    if field.default is not None:
        if field.default.lstrip().startswith(("${", "#{")):
            problems.append("默认值不支持表达式")
        else:
            try:
                clean_value(field, field.default)
            except InvalidValue as exc:
                problems.append(f"默认值 {field.default!r} 无效：{exc}")
    return problems


def _flag_problems(field: FormField) -> list[str]:
    return [f"属性 {name} 只能是 true 或 false，不是 {field.properties[name]!r}" for name in FLAGS
            if name in field.properties and field.properties[name].strip().lower() not in ("true", "false")]


def _order_problems(form: Form, field: FormField, deployed: Mapping[str, FormField]) -> list[str]:
    """`not_before` / `not_after` name today or a date field of this form or of the deployment."""
    problems = []
    for name, refs in (("not_before", field.not_before), ("not_after", field.not_after)):
        if name in field.properties and not refs:
            problems.append(f"属性 {name} 为空，应写 today 或日期字段的 id")
        if refs and (field.type not in DATE_TYPES or field.group):
            problems.append(f"属性 {name} 只适用于单个日期或日期时间字段")
            continue
        for ref in refs:
            other = form.field(ref) or deployed.get(ref)
            if ref == field.id:
                problems.append(f"属性 {name} 不能引用字段自身")
            elif ref != TODAY and (other is None or other.type not in DATE_TYPES or other.group):
                problems.append(f"属性 {name} 引用的 {ref!r} 不是 today，也不是本表单或本次部署中的日期字段")
    return problems


def form_problems(form: Form, deployed: Mapping[str, FormField] | None = None) -> list[str]:
    """Static checks for deploy time; an empty list means the form can be used. `deployed`: the fields of
    the other forms deployed with it (date bounds may name them), by id."""
    problems: list[str] = []
    seen: set[str] = set()
    for field in form.fields:
        name = f"字段 {field.id}" if field.id else f"字段（标签 {field.label!r}）"
        if not field.id:
            problems.append(f"{name}：缺少 id")
        elif field.id in seen:
            problems.append(f"{name}：id 重复")
        seen.add(field.id)
        problems.extend(f"{name}：{p}" for p in _field_problems(field))
        if field.required_when is not None:
            problems.extend(f"{name}：{p}" for p in _condition_problems(form, field))
        problems.extend(f"{name}：{p}" for p in _flag_problems(field) + _order_problems(form, field, deployed or {}))
    for key in form.groups():
        if form.field(key) is not None:
            problems.append(f"字段 {key}：与记录组 {key}.* 重名")
    return problems


def shared_key_problems(forms: Mapping[str, Form]) -> list[tuple[str, str]]:
    """(task id, message) for each field several user tasks write while one of them does not mark it
    `carry_over`: each task writes its own keys, so no form opens with someone else's answer and every
    opinion and decision stays its writer's. `forms`: the deployment's user tasks by id."""
    writers: dict[str, list[tuple[str, bool]]] = {}
    for task_id, form in forms.items():
        written: dict[str, bool] = {}
        for field in form.fields:
            if field.id and not field.readonly:
                key = field.group or field.id
                written[key] = written.get(key, True) and field.carry_over
        for key, carried in written.items():
            writers.setdefault(key, []).append((task_id, carried))
    problems = []
    for key, tasks in sorted(writers.items()):
        for task_id, carried in tasks if len(tasks) > 1 else ():
            if not carried:
                others = "、".join(other for other, _ in tasks if other != task_id)
                problems.append((task_id, f"字段 {key} 也由任务 {others} 填写：每个任务应填写自己的字段（如 "
                                          "signoff_opinion），有意沿用此前的值时在各任务的该字段上设 carry_over=true"))
    return problems
