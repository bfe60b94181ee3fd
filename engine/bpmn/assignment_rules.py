"""The assignment properties a user task may state (engine/runtime/arrivals.py acts on them), and their
check at deploy: every named task must be a user task of the deployment, every named role must exist."""

from __future__ import annotations

from collections.abc import Iterable

from engine.bpmn.safe_xml import BPMN_NS, NSMAP

ASSIGNEE_FROM, POOL = "assignee_from", "pool"
NOT_BY, NOT_BY_LEADERS = "not_by", "not_by_leaders"
_PROPERTIES = "bpmn:extensionElements/camunda:properties/camunda:property"


def ids(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (text or "").split(",") if part.strip())


def problems(trees: Iterable[tuple[str, object]], roles: dict[str, str]) -> list[tuple[str, int, str, str]]:
    """(file, line, task id, message) for each bad reference; `trees`: (file name, parsed tree)."""
    trees = list(trees)
    tasks = {task.get("id") for _, tree in trees for task in tree.getroot().iter(f"{{{BPMN_NS}}}userTask")}
    found = []
    for name, tree in trees:
        for task in tree.getroot().iter(f"{{{BPMN_NS}}}userTask"):
            for node in task.iterfind(_PROPERTIES, NSMAP):
                prop, value = node.get("name"), ids(node.get("value"))
                if prop in (ASSIGNEE_FROM, NOT_BY):
                    unknown = [v for v in value if v not in tasks and not (prop == ASSIGNEE_FROM and v == POOL)]
                    message = "“{v}”不是本次部署的流程中的用户任务（属性 " + prop + "，需要一起部署）"
                elif prop == NOT_BY_LEADERS:
                    unknown = [v for v in value if v not in roles]
                    message = "角色“{v}”不存在（属性 " + prop + "）"
                else:
                    continue
                where = (name, node.sourceline, task.get("id") or "")
                found += [(*where, message.format(v=v)) for v in unknown]
                if prop == NOT_BY_LEADERS and not ids(_value(task, NOT_BY)):
                    found.append((*where, "属性 not_by_leaders 需要同时指定 not_by"))
    return found


def _value(task, prop: str) -> str | None:
    return next((node.get("value") for node in task.iterfind(_PROPERTIES, NSMAP) if node.get("name") == prop), None)
