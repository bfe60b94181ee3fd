"""Declarations that name case fields, and their check at deploy: a decider is shown facts that exist, a
limit is read from a field something writes.

* User task `context_fields` = "field[=标签], …": the facts its decider sees above the form (days asked,
  current deadline, disposal, …). A field some form writes takes that form's label and option names; any
  other field (written by a script or a service task) needs its label written here.
* User task `decision` = the enum or yes/no field of its own form that records what was decided (同意 /
  退回…): earlier opinions and the timeline name the decision with each opinion.
* Form field `max_from` = a case field holding the largest value the field may take (the remaining
  extension allowance); `options_while` = "option=case field[, …]" on an enum field: the option may be
  chosen only while that case field is above 0 (no extension request once the allowance is used up);
  `check_with` = a registered handler that checks the value against the registry (a registration number
  that must name an item). All are checked at submit (engine/runtime/submission_checks.py).
* Service task `writes` = the case fields its handler writes, so other declarations may name them.

A case field exists when a form of the deployment has it, a script of the deployment assigns it, or a
service task says it writes it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.bpmn.forms import NUMBER_TYPES, FormField
from engine.bpmn.safe_xml import BPMN_NS, NSMAP

CONTEXT_FIELDS, DECISION = "context_fields", "decision"
MAX_FROM, OPTIONS_WHILE, CHECK_WITH, WRITES = "max_from", "options_while", "check_with", "writes"
_PROPERTIES = "bpmn:extensionElements/camunda:properties/camunda:property"


@dataclass(frozen=True)
class ContextField:
    id: str
    label: str | None  # as declared; None: the label of the form field that writes it


def context_fields(properties: Mapping[str, str]) -> tuple[ContextField, ...]:
    """The parsed `context_fields` of a user task, in the declared order."""
    found = []
    for part in (properties.get(CONTEXT_FIELDS) or "").replace("，", ",").split(","):
        field_id, _, label = part.partition("=")
        if field_id.strip():
            found.append(ContextField(field_id.strip(), label.strip() or None))
    return tuple(found)


def options_while(properties: Mapping[str, str]) -> dict[str, str]:
    """A field's parsed `options_while`: option id -> the case field that must stay above 0."""
    pairs = (part.partition("=") for part in (properties.get(OPTIONS_WHILE) or "").replace("，", ",").split(","))
    return {option.strip(): field.strip() for option, _, field in pairs if option.strip()}


def declared_label(properties: Mapping[str, str], field_id: str) -> str | None:
    """The label a task's `context_fields` gives a case field, if any."""
    return next((f.label for f in context_fields(properties) if f.id == field_id), None)


def script_targets(python: str) -> set[str]:
    """The names a script assigns (`a = …`, `a += …`, `for a in …`)."""
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return set()  # reported by the expression check
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}


def service_writes(trees: Iterable[object]) -> set[str]:
    """The fields service tasks declare they write (property `writes`)."""
    found = set()
    for tree in trees:
        for task in tree.getroot().iter(f"{{{BPMN_NS}}}serviceTask"):
            for node in task.iterfind(_PROPERTIES, NSMAP):
                if node.get("name") == WRITES:
                    found |= {part.strip() for part in (node.get("value") or "").split(",") if part.strip()}
    return found


@dataclass(frozen=True)
class DeployedTask:
    """What the check reads of one user task: its properties and its form's fields."""

    bpmn_id: str
    properties: Mapping[str, str]
    fields: tuple[FormField, ...]


def problems(tasks: Iterable[DeployedTask], written: set[str], handlers: set[str]) -> list[tuple[str, str]]:
    """(task id, message) for each declaration naming a field nothing writes, a decision that is not a
    decision field of the task's own form, a bound on a non-number field or an unknown check handler.
    `written`: script targets and service `writes` of the deployment (form fields are added here)."""
    tasks = list(tasks)
    form_fields = {f.group or f.id for task in tasks for f in task.fields}
    known = written | form_fields
    found = []
    for task in tasks:
        found += [(task.bpmn_id, m) for m in _context_problems(task, known, form_fields)]
        found += [(task.bpmn_id, m) for m in _decision_problems(task)]
        for field in task.fields:
            found += [(task.bpmn_id, f"字段 {field.id}：{m}") for m in _field_problems(field, known, handlers)]
    return found


def _context_problems(task: DeployedTask, known: set[str], form_fields: set[str]) -> list[str]:
    if CONTEXT_FIELDS not in task.properties:
        return []
    declared = context_fields(task.properties)
    if not declared:
        return ["属性 context_fields 为空，应列出决策时要看的案件字段（逗号分隔）"]
    found = []
    for entry in declared:
        if not entry.id.isidentifier():
            found.append(f"属性 context_fields 中的“{entry.id}”不是字段 id（应写作 字段 或 字段=标签）")
        elif entry.id not in known:
            found.append(f"属性 context_fields 中的“{entry.id}”不是本次部署中任何表单、脚本或服务任务"
                         "（属性 writes）写入的案件字段")
        elif entry.id not in form_fields and entry.label is None:
            found.append(f"属性 context_fields 中的“{entry.id}”不是表单字段，需写明标签：{entry.id}=标签")
    return found


def _decision_problems(task: DeployedTask) -> list[str]:
    if DECISION not in task.properties:
        return []
    field_id = task.properties[DECISION].strip()
    field = next((f for f in task.fields if f.id == field_id and not f.group), None)
    if field is None or field.type not in ("enum", "boolean"):
        return [f"属性 decision 应为本任务表单中的枚举或是/否字段，“{field_id}”不是"]
    return []


def _field_problems(field: FormField, known: set[str], handlers: set[str]) -> list[str]:
    found = []
    bound = field.properties.get(MAX_FROM)
    if bound is not None:
        if field.type not in NUMBER_TYPES or field.group:
            found.append("属性 max_from 只适用于单个整数或小数字段")
        elif bound.strip() not in known:
            found.append(f"属性 max_from 引用的“{bound.strip()}”不是本次部署中写入的案件字段")
    if OPTIONS_WHILE in field.properties:
        found += _options_while_problems(field, known)
    check = field.properties.get(CHECK_WITH)
    if check is not None and check.strip() not in handlers:
        found.append(f"属性 check_with 引用的“{check.strip()}”不是已注册的处理函数")
    return found


def _options_while_problems(field: FormField, known: set[str]) -> list[str]:
    declared = options_while(field.properties)
    if field.type != "enum" or field.group or not declared:
        return ["属性 options_while 只适用于单个枚举字段，应写作 选项id=案件字段[,选项id=案件字段]"]
    options = {option.id for option in field.options}
    found = [f"属性 options_while 中的“{option}”不是本字段的选项" for option in declared if option not in options]
    return found + [f"属性 options_while 引用的“{ref}”不是本次部署中写入的案件字段"
                    for ref in declared.values() if ref not in known]


def user_task_properties(task: object) -> Mapping[str, str]:
    """A user task's camunda:properties (engine/bpmn/dialect.py keeps them on its routing)."""
    routing = getattr(task, "routing", None)
    return routing.properties if routing is not None else {}

