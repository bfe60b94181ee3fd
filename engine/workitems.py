"""Work items: the READY user tasks of every case, kept in a table after each command.

Queues and counts read only these tables (never the workflow state). A row survives from command to
command while its task stays READY, so claims and due dates computed on arrival are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

from engine.casestate import address, ready_user_tasks
from engine.models import WorkItem, WorkItemCandidate
from engine.organisation import Actor, role_for_lane

QUEUES = ("mine", "groups", "unclaimed", "overdue", "due_soon")


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
    return item, [f"role:{group}" for group in groups] + [f"user:{user}" for user in users]


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
        session.add_all(WorkItemCandidate(work_item_id=item.id, candidate=c) for c in dict.fromkeys(candidates))
        created.append(item)
    return created


def may_work_on(actor: Actor, item: WorkItem) -> bool:
    """Candidate by role (within the item's department, if it has one) or by name; or the assignee."""
    if item.assignee:
        return item.assignee == actor.name
    if actor.name in item.candidate_users:
        return True
    in_department = item.department is None or item.department == actor.department
    return in_department and bool(actor.roles.intersection(item.candidate_groups))


@dataclass(frozen=True)
class QueueQuery:
    view: str = "mine"  # one of QUEUES
    within_days: int = 3  # for due_soon
    limit: int = 50
    offset: int = 0


def _candidate_filter(actor: Actor):
    candidate_items = sa.select(WorkItemCandidate.work_item_id).where(
        WorkItemCandidate.candidate.in_(actor.candidates)
    )
    by_department = sa.or_(WorkItem.department.is_(None), WorkItem.department == actor.department)
    return sa.and_(WorkItem.id.in_(candidate_items), by_department)


def queue_filter(actor: Actor, view: str, now: datetime, within_days: int = 3):
    """The WHERE clause of a queue; all views only ever show items the actor may work on."""
    visible = sa.or_(WorkItem.assignee == actor.name, sa.and_(WorkItem.assignee.is_(None), _candidate_filter(actor)))
    if view == "mine":
        return WorkItem.assignee == actor.name
    if view == "groups":  # everything my roles are candidates for, whoever has claimed it
        return _candidate_filter(actor)
    if view == "unclaimed":
        return sa.and_(WorkItem.assignee.is_(None), _candidate_filter(actor))
    if view == "overdue":
        return sa.and_(visible, WorkItem.due_at < now)
    if view == "due_soon":
        return sa.and_(visible, WorkItem.due_at >= now, WorkItem.due_at < now + timedelta(days=within_days))
    raise ValueError(f"未知的待办视图：{view}")


def queue(session: Session, actor: Actor, query: QueueQuery, now: datetime) -> list[WorkItem]:
    statement = (
        sa.select(WorkItem).where(queue_filter(actor, query.view, now, query.within_days))
        .order_by(WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.id)
        .limit(query.limit).offset(query.offset)
    )
    return list(session.scalars(statement))


def counts(session: Session, actor: Actor, now: datetime, within_days: int = 3) -> dict[str, int]:
    columns = [
        sa.func.count(WorkItem.id).filter(queue_filter(actor, view, now, within_days)).label(view)
        for view in QUEUES
    ]
    row = session.execute(sa.select(*columns)).one()
    return dict(row._mapping)
