"""Work items: the READY user tasks of every case, kept in a table after each command.

Queues and counts (engine/reads/queues.py) read only these tables (never the workflow state). A row
survives from command to command while its task stays READY, so claims and due dates computed on arrival
are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

from engine.jsonutil import jsonable
from engine.org.organisation import Actor, display_names, role_for_lane
from engine.runtime.casestate import address, ready_user_tasks
from engine.store.models import Department, Role, WorkItem, WorkItemCandidate, WorkItemExclusion


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part).strip() for part in value if str(part).strip()]


def _as_instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    instant = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if instant.tzinfo is None:
        raise ValueError(f"期限必须带时区：{value}")
    return instant


def _new_item(case_id: int, task: Task, evaluate: Callable[[Task, str | None], Any], roles: dict[str, str],
              now: datetime) -> tuple[WorkItem, list[str]]:
    spec = task.task_spec
    routing = getattr(spec, "routing", None)
    where = address(task)
    groups = _as_list(evaluate(task, routing.candidate_groups)) if routing else []
    lane_role = role_for_lane(spec.lane, roles)
    if not groups and lane_role:
        groups = [lane_role]
    users = _as_list(evaluate(task, routing.candidate_users)) if routing else []
    priority = evaluate(task, routing.priority) if routing else None
    item = WorkItem(
        case_id=case_id, task_id=str(task.id), process_id=where.process_id, bpmn_id=where.bpmn_id,
        ordinal=where.ordinal, name=spec.bpmn_name or spec.bpmn_id, lane=spec.lane,
        candidate_groups=groups, candidate_users=users,
        department=(evaluate(task, routing.department) or None) if routing else None,
        assignee=(evaluate(task, routing.assignee) or None) if routing else None,
        priority=int(priority) if priority not in (None, "") else None,
        created_at=now,
        due_at=_as_instant(evaluate(task, routing.due_date)) if routing else None,
        remind_at=_as_instant(evaluate(task, routing.follow_up_date)) if routing else None,
    )
    return item, candidate_keys(groups, users, item.department)


def candidate_keys(groups: list[str], users: list[str], department: str | None) -> list[str]:
    """The keys an item is offered under (see Actor.candidates): a role bound to a department names it,
    so "offered to me" needs no look at the item's own row."""
    suffix = f"@{department}" if department else ""
    return list(dict.fromkeys([f"role:{group}{suffix}" for group in groups] + [f"user:{user}" for user in users]))


def copy_assignee(session: Session, work_item_id: int, assignee: str | None) -> None:
    session.execute(sa.update(WorkItemCandidate).where(WorkItemCandidate.work_item_id == work_item_id)
                    .values(assignee=assignee))


def copy_due(session: Session, work_item_ids: Any, due: datetime | None) -> None:
    """`work_item_ids`: ids or a SELECT of ids whose due time just changed."""
    session.execute(sa.update(WorkItemCandidate).where(WorkItemCandidate.work_item_id.in_(work_item_ids))
                    .values(due_at=due))


def sync(session: Session, case_id: int, workflow: BpmnWorkflow, evaluate: Callable[[Task, str | None], Any],
         roles: dict[str, str], now: datetime) -> list[WorkItem]:
    """Make the table match the case's READY user tasks; returns the rows that are new."""
    ready = {str(task.id): task for task in ready_user_tasks(workflow)}
    existing = set(session.scalars(sa.select(WorkItem.task_id).where(WorkItem.case_id == case_id)))
    gone = existing - ready.keys()
    if gone:
        session.execute(sa.delete(WorkItem).where(WorkItem.task_id.in_(gone)))
    created = []
    for task_id, task in ready.items():
        if task_id in existing:
            continue
        item, candidates = _new_item(case_id, task, evaluate, roles, now)
        session.add(item)
        session.flush()
        session.add_all(WorkItemCandidate(work_item_id=item.id, candidate=c, shared=len(candidates) > 1,
                                          assignee=item.assignee, due_at=item.due_at) for c in candidates)
        created.append(item)
    return created


def as_dict(row: WorkItem) -> dict[str, Any]:
    return jsonable({
        "id": row.id, "case_id": row.case_id, "task_id": row.task_id, "process_id": row.process_id,
        "bpmn_id": row.bpmn_id, "ordinal": row.ordinal, "name": row.name, "lane": row.lane,
        "candidate_groups": row.candidate_groups, "candidate_users": row.candidate_users,
        "department": row.department, "assignee": row.assignee, "priority": row.priority,
        "created_at": row.created_at, "due_at": row.due_at, "remind_at": row.remind_at,
    })


def may_work_on(actor: Actor, item: WorkItem) -> bool:
    """Candidate by role (within the item's department, if it has one) or by name; or the assignee."""
    if item.assignee:
        return item.assignee == actor.name
    if actor.name in item.candidate_users:
        return True
    in_department = item.department is None or item.department == actor.department
    return in_department and bool(actor.roles.intersection(item.candidate_groups))


def holders(session: Session, items: list[WorkItem]) -> dict[int, str]:
    """Who holds or may take each item, in words for staff ("承办部门工作人员（第一监督检查室）"), by
    role label, department name and display name, never raw ids; and whom separation of duties excludes."""
    roles = dict(session.execute(sa.select(Role.name, Role.label)).all())
    departments = dict(session.execute(sa.select(Department.code, Department.name)).all())
    excluded: dict[int, list[str]] = {}
    for item_id, name in session.execute(sa.select(WorkItemExclusion.work_item_id, WorkItemExclusion.user_name)
                                         .where(WorkItemExclusion.work_item_id.in_([i.id for i in items]))):
        excluded.setdefault(item_id, []).append(name)
    names = {i.assignee for i in items if i.assignee} | {u for i in items for u in i.candidate_users}
    names |= {n for group in excluded.values() for n in group}
    people = display_names(session, names)
    found = {}
    for item in items:
        if item.assignee:
            found[item.id] = f"已由 {people.get(item.assignee, item.assignee)} 办理"
            continue
        where = f"（{departments.get(item.department, item.department)}）" if item.department else ""
        offered = [roles.get(group, group) + where for group in item.candidate_groups]
        offered += [people.get(user, user) for user in item.candidate_users]
        text = "待领取：" + ("、".join(offered) or "无候选人")
        if excluded.get(item.id):
            text += "；按职责分离不由 " + "、".join(people.get(n, n) for n in sorted(excluded[item.id])) + " 办理"
        found[item.id] = text
    return found
