"""What an attachment is for (its purpose), which purposes a user task offers in its form — the
camunda:property `attachments`, a comma-separated list of purpose ids — and that list's check at deploy.

A purpose also says whether its files may name the reporter (the letter and its enclosures, evidence,
records of contact with the reporter): those open only for readers of the reporter, the others for
everyone who may read the case (engine/reads/attachments.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.bpmn.assignment_rules import ids
from engine.bpmn.safe_xml import BPMN_NS, NSMAP

ATTACHMENTS = "attachments"
_PROPERTIES = "bpmn:extensionElements/camunda:properties/camunda:property"


@dataclass(frozen=True)
class Purpose:
    label: str
    names_reporter: bool


PURPOSES = {
    "letter": Purpose("来信来件及附件", True),
    "evidence": Purpose("证据材料", True),
    "handling_report": Purpose("调查报告", False),
    "feedback_record": Purpose("反馈记录", True),
    "clarification_record": Purpose("澄清正名材料", False),
    "other": Purpose("其他材料", False),
}


def offered(properties: dict[str, str]) -> tuple[str, ...]:
    """The purposes a user task's form offers uploads for, in the diagram's order."""
    return ids(properties.get(ATTACHMENTS))


def problems(trees: Iterable[tuple[str, object]]) -> list[tuple[str, int, str, str]]:
    """(file, line, task id, message) for each purpose a task names that does not exist."""
    found = []
    known = "、".join(PURPOSES)
    for name, tree in trees:
        for task in tree.getroot().iter(f"{{{BPMN_NS}}}userTask"):
            for node in task.iterfind(_PROPERTIES, NSMAP):
                if node.get("name") != ATTACHMENTS:
                    continue
                found += [(name, node.sourceline, task.get("id") or "",
                           f"附件用途“{purpose}”不存在（属性 attachments，可用：{known}）")
                          for purpose in ids(node.get("value")) if purpose not in PURPOSES]
    return found
