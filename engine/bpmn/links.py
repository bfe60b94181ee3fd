"""Link events, which SpiffWorkflow does not know: a throw link event would end its path.

Camunda jumps from a throw link event to the catch link event of the same name in the same (sub)process.
`join` rewrites each such pair, in the tree the engine parses, into a sequence flow between two plain
intermediate events; `problems` reports the throws it could not join.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from engine.bpmn.safe_xml import BPMN_NS, NSMAP

_SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")


def _scopes(root: etree._Element) -> Iterator[etree._Element]:
    yield from root.iter(*(f"{{{BPMN_NS}}}{tag}" for tag in _SCOPES))


def _links(scope: etree._Element, tag: str) -> list[tuple[etree._Element, str]]:
    """(event, link name) of the scope's own link events of one kind (not those of nested subprocesses)."""
    found = []
    for event in scope.iterfind(f"bpmn:{tag}", NSMAP):
        definition = event.find("bpmn:linkEventDefinition", NSMAP)
        if definition is not None:
            found.append((event, (definition.get("name") or "").strip()))
    return found


def join(tree: etree._ElementTree) -> None:
    for scope in _scopes(tree.getroot()):
        catches: dict[str, list[etree._Element]] = {}
        for event, name in _links(scope, "intermediateCatchEvent"):
            catches.setdefault(name, []).append(event)
        for throw, name in _links(scope, "intermediateThrowEvent"):
            targets = catches.get(name, [])
            if not name or len(targets) != 1:
                continue  # reported by problems()
            catch = targets[0]
            throw.remove(throw.find("bpmn:linkEventDefinition", NSMAP))
            definition = catch.find("bpmn:linkEventDefinition", NSMAP)
            if definition is not None:
                catch.remove(definition)
                catch.tag = f"{{{BPMN_NS}}}intermediateThrowEvent"  # a none event: passes straight on
            flow = etree.SubElement(scope, f"{{{BPMN_NS}}}sequenceFlow")
            flow.set("id", f"{throw.get('id')}__link")
            flow.set("sourceRef", throw.get("id") or "")
            flow.set("targetRef", catch.get("id") or "")


def problems(tree: etree._ElementTree) -> list[tuple[int, str, str]]:
    """After `join`: every throw link event still holding its definition had no single catch to go to."""
    found = []
    for scope in _scopes(tree.getroot()):
        catches = [name for _, name in _links(scope, "intermediateCatchEvent")]
        for throw, name in _links(scope, "intermediateThrowEvent"):
            if not name:
                message = "链接抛出事件没有链接名称（linkEventDefinition 的 name）"
            elif name not in catches:
                message = f"链接“{name}”在同一流程中没有对应的链接捕获事件"
            else:
                message = f"链接“{name}”在同一流程中有 {catches.count(name)} 个捕获事件，无法确定去向"
            found.append((throw.sourceline, throw.get("id") or "", message))
    return found
