"""Reading BPMN XML safely, and rewriting Camunda-style text into what the engine evaluates.

Files come from process owners' browsers and from disk: a DOCTYPE (and with it every entity trick:
external entities, billion laughs) is refused before lxml sees the bytes, and lxml itself never resolves
entities or touches the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from lxml import etree

from engine.bpmn.expressions import to_python_expression, to_python_timer
from engine.bpmn.library_messages import xml_message

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
NSMAP = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
ROUTING_ATTRIBUTES = ("candidateGroups", "candidateUsers", "assignee", "dueDate", "followUpDate", "priority")
MAX_FILE_BYTES = 5 * 1024 * 1024

_SAFE_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False,
    remove_comments=False,
)


class XmlRefused(Exception):
    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


def load(content: bytes | str) -> etree._ElementTree:
    """Parse a BPMN file, refusing anything that is not plain XML."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    if len(data) > MAX_FILE_BYTES:
        raise XmlRefused(f"文件过大（超过 {MAX_FILE_BYTES // 1024 // 1024} MB）")
    try:
        defused_fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise XmlRefused("不允许 DOCTYPE、实体声明或外部引用", _doctype_line(data)) from exc
    except Exception as exc:  # expat's ParseError: report through lxml below for a better line number
        del exc
    try:
        tree = etree.ElementTree(etree.fromstring(data, _SAFE_PARSER))
    except etree.XMLSyntaxError as exc:
        raise XmlRefused(xml_message(exc.msg), exc.lineno or 1) from exc
    if tree.docinfo.doctype:
        raise XmlRefused("不允许 DOCTYPE 声明", _doctype_line(data))
    return tree


def _doctype_line(data: bytes) -> int:
    found = data.find(b"<!DOCTYPE")
    return data[:found].count(b"\n") + 1 if found >= 0 else 1


@dataclass(frozen=True)
class Expression:
    """One piece of evaluated text in a diagram, for validation and for rewriting."""

    element_id: str | None
    line: int | None
    kind: str  # condition | timeDate | timeDuration | timeCycle | script | attribute
    mode: str  # eval | exec
    source: str  # as the process owner wrote it
    python: str  # what the engine evaluates


def owner_id(node: etree._Element) -> str:
    """The id of the node or of its nearest ancestor that has one ("" if none has)."""
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return ""


def normalise(tree: etree._ElementTree) -> list[Expression]:
    """Rewrite conditions and timers in place to Python, drop what Camunda ignores, and list every expression
    the diagram holds."""
    found: list[Expression] = []
    root = tree.getroot()
    for node in root.iter(f"{{{BPMN_NS}}}conditionExpression", f"{{{BPMN_NS}}}condition"):
        if node.text and node.text.strip():
            python = to_python_expression(node.text.strip())
            found.append(Expression(owner_id(node), node.sourceline, "condition", "eval", node.text, python))
            node.text = python
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        for node in root.iter(f"{{{BPMN_NS}}}{tag}"):
            source = (node.text or "").strip()
            python = to_python_timer(source)
            found.append(Expression(owner_id(node), node.sourceline, tag, "eval", source, python))
            node.text = python
    for node in root.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        # Camunda writes the collection as an expression, SpiffWorkflow reads it as a variable name.
        collection = node.get(f"{{{CAMUNDA_NS}}}collection")
        bare = re.fullmatch(r"\$\{\s*([A-Za-z_]\w*)\s*\}", collection or "")
        if bare:
            node.set(f"{{{CAMUNDA_NS}}}collection", bare.group(1))
    # Camunda ignores data objects and their associations (documentation only); SpiffWorkflow would copy task
    # data through them and fail on a name the task does not hold.
    for tag in ("dataInputAssociation", "dataOutputAssociation", "dataObject", "dataObjectReference"):
        for node in list(root.iter(f"{{{BPMN_NS}}}{tag}")):
            node.getparent().remove(node)
    for node in root.iter(f"{{{BPMN_NS}}}script"):
        if node.text and node.text.strip():
            found.append(Expression(owner_id(node), node.sourceline, "script", "exec", node.text, node.text))
    for node in root.iter(f"{{{BPMN_NS}}}userTask", f"{{{BPMN_NS}}}manualTask"):
        # Camunda Modeler's generated forms carry no formKey, and SpiffWorkflow reads formData only with one.
        has_form = node.find(".//camunda:formData", NSMAP) is not None
        if has_form and node.get(f"{{{CAMUNDA_NS}}}formKey") is None:
            node.set(f"{{{CAMUNDA_NS}}}formKey", "")
        for attribute in ROUTING_ATTRIBUTES:
            value = node.get(f"{{{CAMUNDA_NS}}}{attribute}")
            if value and "${" in value:
                python = to_python_expression(value)
                found.append(Expression(node.get("id"), node.sourceline, "attribute", "eval", value, python))
    return found


def line_index(tree: etree._ElementTree) -> dict[str, int]:
    """Element id -> line, for messages about elements SpiffWorkflow reports only by id."""
    return {node.get("id"): node.sourceline for node in tree.getroot().iter() if isinstance(node.tag, str)
            and node.get("id")}
