"""Camunda 7 variable mapping: `camunda:inputOutput` on tasks and subprocesses, `camunda:in` / `camunda:out`
on call activities, run as Camunda runs them on top of SpiffWorkflow's copy-everything task data.

* An input parameter is a local variable of its activity: evaluated against the data outside when the
  activity is entered, visible inside it (and inside an embedded subprocess), gone when it is left — a
  variable of the same name outside keeps its value. Whatever else the activity writes (form fields, script
  variables) goes out as before. Output parameters are evaluated inside when it is left and set outside.
* Values: text (a constant), `${expr}` or composite text, `camunda:list` and `camunda:map`, nested.
* A call activity with `camunda:in` hands the called process only what they name (`source`, `sourceExpression`
  or `variables="all"`); with `camunda:out` only what they name comes back. Without either, the called
  process sees and returns all the case data (as `variables="all"` both ways).

Refused at validate: `camunda:script` parameters, mapping on events or on multi-instance and loop
activities, `local="true"`, and a `businessKey` other than the case's own (the called process is part of
the same case, so it has the case's business key).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import CallActivity, SubWorkflowTask
from SpiffWorkflow.task import Task

from engine.bpmn import task_errors
from engine.bpmn.camunda_text import to_python_expression
from engine.bpmn.safe_xml import BPMN_NS, CAMUNDA_NS, Expression

_C = f"{{{CAMUNDA_NS}}}"
_LOCALS = "io_locals"  # internal data of an entered activity: its local names and the values they hide
MAPPABLE = frozenset({"task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
                      "businessRuleTask", "subProcess", "callActivity", "transaction"})
_CASE_BUSINESS_KEY = {"${execution.processBusinessKey}", "#{execution.processBusinessKey}"}

# A value as read from the diagram: ("text", str) | ("expr", python, source) | ("list", [values])
# | ("map", [(key, value)]) | ("null",)
Value = tuple


@dataclass(frozen=True)
class Copy:
    """One camunda:in / camunda:out: everything (`source` None and `expression` None), or one variable."""

    target: str | None = None
    source: str | None = None
    expression: str | None = None  # Python


@dataclass(frozen=True)
class IoMapping:
    inputs: tuple[tuple[str, Value], ...] = ()
    outputs: tuple[tuple[str, Value], ...] = ()
    copy_in: tuple[Copy, ...] | None = None  # None: no camunda:in, all data goes in
    copy_out: tuple[Copy, ...] | None = None


def _localname(node: etree._Element) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _value(node: etree._Element) -> Value:
    """The content of a parameter, a list's `camunda:value` or a map's `camunda:entry`."""
    children = [child for child in node if isinstance(child.tag, str)]
    if not children:
        text = (node.text or "").strip()
        if not text:
            return ("null",)
        if "${" in text or "#{" in text:
            return ("expr", to_python_expression(text), text)
        return ("text", text)
    return _structure(children[0])


def _structure(node: etree._Element) -> Value:
    items = [child for child in node if isinstance(child.tag, str)]
    if node.tag == f"{_C}list":
        return ("list", [_value(item) if item.tag == f"{_C}value" else _structure(item) for item in items])
    if node.tag == f"{_C}map":
        return ("map", [(entry.get("key") or "", _value(entry)) for entry in items])
    return ("unsupported", _localname(node))


def _copies(node: etree._Element, tag: str) -> tuple[Copy, ...] | None:
    found = [n for n in node.iterfind(f"bpmn:extensionElements/camunda:{tag}", {"bpmn": BPMN_NS,
                                                                                  "camunda": CAMUNDA_NS})]
    copies = []
    for item in found:
        if item.get("businessKey") is not None:
            continue  # the case's own business key (checked at validate): nothing to copy
        if item.get("variables") == "all":
            copies.append(Copy())
        elif item.get("sourceExpression"):
            copies.append(Copy(item.get("target"), expression=to_python_expression(item.get("sourceExpression"))))
        else:
            copies.append(Copy(item.get("target"), source=item.get("source")))
    return tuple(copies) if found else None


def read(node: etree._Element) -> IoMapping | None:
    """The mapping of a BPMN activity, or None when it has none."""
    io = node.find(f"{{{BPMN_NS}}}extensionElements/{_C}inputOutput")
    inputs = outputs = ()
    if io is not None:
        inputs = tuple((p.get("name") or "", _value(p)) for p in io.iterfind(f"{_C}inputParameter"))
        outputs = tuple((p.get("name") or "", _value(p)) for p in io.iterfind(f"{_C}outputParameter"))
    copy_in, copy_out = _copies(node, "in"), _copies(node, "out")
    if io is None and copy_in is None and copy_out is None:
        return None
    return IoMapping(inputs, outputs, copy_in, copy_out)


# ---- validation ------------------------------------------------------------------------------------------


def _mapped_nodes(tree: etree._ElementTree) -> Iterator[tuple[etree._Element, etree._Element]]:
    """(activity, mapping element) for every camunda:inputOutput / camunda:in / camunda:out of an element;
    a camunda:connector's own mapping goes with the connector, which is refused as a whole."""
    for node in tree.getroot().iter(f"{_C}inputOutput", f"{_C}in", f"{_C}out"):
        extensions = node.getparent()
        if extensions is not None and etree.QName(extensions).localname == "extensionElements" \
                and extensions.getparent() is not None:
            yield extensions.getparent(), node


def _values(value: Value) -> Iterator[tuple[str, str]]:
    if value[0] == "expr":
        yield value[2], value[1]
    elif value[0] == "list":
        for item in value[1]:
            yield from _values(item)
    elif value[0] == "map":
        for _, item in value[1]:
            yield from _values(item)


def _unsupported(value: Value) -> Iterator[str]:
    if value[0] == "unsupported":
        yield value[1]
    elif value[0] == "list":
        for item in value[1]:
            yield from _unsupported(item)
    elif value[0] == "map":
        for _, item in value[1]:
            yield from _unsupported(item)


def expressions(tree: etree._ElementTree) -> list[Expression]:
    """Every expression of the file's mappings, for the restricted compiler."""
    found = []
    for activity, node in _mapped_nodes(tree):
        if node.tag == f"{_C}inputOutput":
            for parameter in node:
                if isinstance(parameter.tag, str):
                    found += [Expression(activity.get("id"), parameter.sourceline, "parameter", "eval", source, python)
                              for source, python in _values(_value(parameter))]
        elif node.get("sourceExpression"):
            source = node.get("sourceExpression")
            found.append(Expression(activity.get("id"), node.sourceline, "parameter", "eval", source,
                                    to_python_expression(source)))
    return found


def problems(tree: etree._ElementTree) -> list[tuple[int, str, str]]:
    """(line, element id, message) for every mapping the engine cannot run as Camunda would."""
    found = []
    for activity, node in _mapped_nodes(tree):
        kind, element_id, line = _localname(activity), activity.get("id") or "", node.sourceline
        if kind not in MAPPABLE:
            found.append((line, element_id, f"{_localname(node)} 变量映射只支持任务、子流程和调用活动"))
            continue
        loops = activity.find(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics")
        if loops is None:
            loops = activity.find(f"{{{BPMN_NS}}}standardLoopCharacteristics")
        if loops is not None:
            found.append((line, element_id, "多实例或循环活动上的变量映射未支持"))
        if node.tag == f"{_C}inputOutput":
            found += _parameter_problems(node, element_id)
        else:
            found += _copy_problems(node, kind, element_id)
    return found


def _parameter_problems(io: etree._Element, element_id: str) -> list[tuple[int, str, str]]:
    found = []
    for parameter in io:
        if not isinstance(parameter.tag, str):
            continue
        if not (parameter.get("name") or "").strip():
            found.append((parameter.sourceline, element_id, "输入/输出参数需要名称（name）"))
        for what in _unsupported(_value(parameter)):
            language = "camunda:script" if what == "script" else f"camunda:{what}"
            found.append((parameter.sourceline, element_id, f"参数“{parameter.get('name') or ''}”中的 {language} 未支持"
                          "（支持文字、${表达式}、camunda:list 和 camunda:map）"))
    return found


def _copy_problems(node: etree._Element, kind: str, element_id: str) -> list[tuple[int, str, str]]:
    tag, line = _localname(node), node.sourceline
    if kind != "callActivity":
        return [(line, element_id, f"camunda:{tag} 只能用于调用活动（callActivity）")]
    if node.get("local") == "true":
        return [(line, element_id, f"camunda:{tag} 的 local=\"true\" 未支持")]
    key = node.get("businessKey")
    if key is not None:
        if tag == "in" and key.strip() in _CASE_BUSINESS_KEY:
            return []
        return [(line, element_id, "被调用的流程属于同一案件，业务键只能是 ${execution.processBusinessKey}")]
    if node.get("variables") == "all":
        return []
    if not (node.get("target") or "").strip():
        return [(line, element_id, f"camunda:{tag} 需要 target（或 variables=\"all\"）")]
    if not (node.get("source") or node.get("sourceExpression") or "").strip():
        return [(line, element_id, f"camunda:{tag} 需要 source 或 sourceExpression")]
    return []


# ---- run time --------------------------------------------------------------------------------------------


def _evaluate(value: Value, task: Task, name: str) -> Any:
    kind = value[0]
    if kind == "text":
        return value[1]
    if kind == "expr":
        return task_errors.evaluate(task, value[1], f"参数“{name}”")
    if kind == "list":
        return [_evaluate(item, task, name) for item in value[1]]
    if kind == "map":
        return {key: _evaluate(item, task, name) for key, item in value[1]}
    return None


def _enter(task: Task, mapping: IoMapping) -> None:
    if not mapping.inputs or _LOCALS in task.internal_data:
        return
    values = {name: _evaluate(value, task, name) for name, value in mapping.inputs}  # all against the outside
    task.internal_data[_LOCALS] = {"names": list(values),
                                   "hidden": {name: task.data[name] for name in values if name in task.data}}
    task.data.update(values)


def _leave(task: Task, mapping: IoMapping) -> None:
    outputs = {name: _evaluate(value, task, name) for name, value in mapping.outputs}
    scope = task.internal_data.pop(_LOCALS, None)
    if scope:
        for name in scope["names"]:
            task.data.pop(name, None)
        task.data.update(scope["hidden"])
    task.data.update(outputs)


def _copied(copies: tuple[Copy, ...], source: Task) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for copy in copies:
        if copy.source is None and copy.expression is None:
            data.update(source.data)
        elif copy.expression is not None:
            data[copy.target] = task_errors.evaluate(source, copy.expression, f"camunda:in/out“{copy.target}”")
        else:
            data[copy.target] = source.data.get(copy.source)  # Camunda copies a missing variable as null
    return data


class IoMapped:
    """Mixed into the spec of each activity that has a mapping (engine/bpmn/dialect.py swaps its class)."""

    io_mapping: IoMapping | None = None

    def _update_hook(self, my_task: Task):
        ready = super()._update_hook(my_task)
        if ready and self.io_mapping and not isinstance(self, SubWorkflowTask):
            _enter(my_task, self.io_mapping)
        return ready

    def copy_data(self, my_task: Task, subworkflow) -> None:
        mapping = self.io_mapping
        if mapping:
            _enter(my_task, mapping)
        if isinstance(self, CallActivity) and mapping and mapping.copy_in is not None:
            start = subworkflow.get_next_task(subworkflow.task_tree, skip_subprocesses=True, spec_name="Start")
            start.set_data(**_copied(mapping.copy_in, my_task))
        else:
            super().copy_data(my_task, subworkflow)

    def update_data(self, my_task: Task, subworkflow) -> None:
        mapping = self.io_mapping
        if isinstance(self, CallActivity) and mapping and mapping.copy_out is not None:
            my_task.data.update(_copied(mapping.copy_out, subworkflow.last_task))
        else:
            super().update_data(my_task, subworkflow)

    def _on_complete_hook(self, my_task: Task) -> None:
        if self.io_mapping:
            _leave(my_task, self.io_mapping)
        super()._on_complete_hook(my_task)


@functools.cache
def with_io_mapping(spec_class: type) -> type:
    """The spec class with Camunda's variable mapping (same name: it is what logs and pages show)."""
    return type(spec_class.__name__, (IoMapped, spec_class), {"__module__": spec_class.__module__})
