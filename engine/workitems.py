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
from engine.jsonutil import jsonable
from engine.models import Petition, User, UserRole, WorkItem, WorkItemCandidate
from engine.organisation import Actor, role_for_lane

QUEUES = ("mine", "groups", "unclaimed", "overdue", "due_soon")
DEPARTMENT_VIEWERS = frozenset({"handling_leader", "petition_head"})  # may watch their whole department


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
        session.add_all(WorkItemCandidate(work_item_id=item.id, candidate=c, assignee=item.assignee,
                                          due_at=item.due_at) for c in candidates)
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


SORTS = {
    "due": (WorkItem.due_at.is_(None), WorkItem.due_at, WorkItem.id),
    "arrived": (WorkItem.created_at.desc(), WorkItem.id.desc()),
    "case": (WorkItem.case_id.desc(), WorkItem.id),
}


@dataclass(frozen=True)
class QueueQuery:
    view: str = "mine"  # one of QUEUES, or "department"
    within_days: int = 3  # for due_soon
    limit: int = 50
    offset: int = 0
    sort: str = "due"  # one of SORTS
    stage: str | None = None  # process id of the task (intake, handling, ...)
    channel: str | None = None  # petition registry columns
    category: str | None = None
    department: str | None = None  # the item's handling department


def views_of(actor: Actor) -> tuple[str, ...]:
    return QUEUES + ("department",) if actor.roles & DEPARTMENT_VIEWERS and actor.department else QUEUES


def _department_filter(actor: Actor, department_roles: list[str]):
    """Items bound to the actor's department, or offered to a role its members hold and not bound to
    another department, or assigned to one of its members."""
    offered = sa.select(WorkItemCandidate.work_item_id).where(
        WorkItemCandidate.candidate.in_([f"role:{role}" for role in department_roles])
    )
    members = sa.select(User.name).where(User.department == actor.department)
    return sa.or_(
        WorkItem.department == actor.department,
        sa.and_(WorkItem.department.is_(None), WorkItem.id.in_(offered)),
        WorkItem.assignee.in_(members),
    )


def department_roles(session: Session, department: str | None) -> list[str]:
    """Roles held by the department's members, less the commission-wide leader roles."""
    if not department:
        return []
    rows = session.scalars(
        sa.select(UserRole.role_name).join(User, User.name == UserRole.user_name)
        .where(User.department == department).distinct()
    )
    return sorted(set(rows) - {"leader_in_charge", "principal_leader", "admin", "auditor", "process_owner"})


def _offered(actor: Actor, *conditions) -> sa.Select:
    """Ids of items offered to the actor (by role within its department, or by name)."""
    return sa.select(WorkItemCandidate.work_item_id).where(WorkItemCandidate.candidate.in_(actor.candidates),
                                                           *conditions)


def _candidate_filter(actor: Actor):
    return WorkItem.id.in_(_offered(actor))


def queue_filter(actor: Actor, view: str, now: datetime, within_days: int = 3, department_roles: list[str] = ()):
    """The WHERE clause of a queue; all views but "department" only show items the actor may work on."""
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
    if view == "department" and view in views_of(actor):
        return _department_filter(actor, list(department_roles))
    raise ValueError(f"未知的待办视图：{view}")


def _query_filter(session: Session, actor: Actor, query: QueueQuery, now: datetime):
    roles = department_roles(session, actor.department) if query.view == "department" else []
    conditions = [queue_filter(actor, query.view, now, query.within_days, roles)]
    if query.stage:
        conditions.append(WorkItem.process_id == query.stage)
    registry = {"channel": Petition.channel, "category": Petition.category, "department": Petition.handling_department}
    picked = [column == getattr(query, name) for name, column in registry.items() if getattr(query, name)]
    if picked:
        conditions.append(WorkItem.case_id.in_(sa.select(Petition.case_id).where(*picked)))
    return sa.and_(*conditions)


def _unfiltered(query: QueueQuery) -> bool:
    return not (query.stage or query.channel or query.category or query.department)


def queue(session: Session, actor: Actor, query: QueueQuery, now: datetime) -> list[WorkItem]:
    if query.sort not in SORTS:
        raise ValueError(f"未知的排序方式：{query.sort}")
    if query.view in ("groups", "unclaimed") and query.sort == "due" and _unfiltered(query):
        return _offered_page(session, actor, query)
    statement = (
        sa.select(WorkItem).where(_query_filter(session, actor, query, now))
        .order_by(*SORTS[query.sort]).limit(query.limit).offset(query.offset)
    )
    return list(session.scalars(statement))


def _offered_page(session: Session, actor: Actor, query: QueueQuery) -> list[WorkItem]:
    """A page of the role queues in due order, picked from the candidate rows' copies (an index scan of
    one table), then the page's rows loaded. Every candidate row of an item holds the same copies."""
    due = WorkItemCandidate.due_at
    conditions = [WorkItemCandidate.assignee.is_(None)] if query.view == "unclaimed" else []
    ids = list(session.scalars(
        _offered(actor, *conditions).group_by(WorkItemCandidate.work_item_id)
        .order_by(sa.func.max(sa.case((due.is_(None), 1), else_=0)), sa.func.min(due), WorkItemCandidate.work_item_id)
        .limit(query.limit).offset(query.offset)
    ))
    rows = {row.id: row for row in session.scalars(sa.select(WorkItem).where(WorkItem.id.in_(ids)))}
    return [rows[item_id] for item_id in ids if item_id in rows]


def queue_total(session: Session, actor: Actor, query: QueueQuery, now: datetime) -> int:
    if _unfiltered(query) and query.view in QUEUES:
        return session.scalar(sa.select(_count_columns(actor, now, query.within_days)[query.view])) or 0
    statement = sa.select(sa.func.count(WorkItem.id)).where(_query_filter(session, actor, query, now))
    return session.scalar(statement) or 0


def _count_columns(actor: Actor, now: datetime, within_days: int) -> dict[str, Any]:
    """Each view's count as a scalar subquery. Items assigned to the actor are counted on work_items by
    assignee; items offered to the actor on the candidate rows' copies — the two sets never overlap, and
    DISTINCT covers an item offered to the actor under two keys."""
    soon = now + timedelta(days=within_days)
    due = WorkItemCandidate.due_at

    def mine(*conditions):
        return sa.select(sa.func.count()).select_from(WorkItem).where(
            WorkItem.assignee == actor.name, *conditions).scalar_subquery()

    def offered(*conditions):
        return sa.select(sa.func.count(sa.distinct(WorkItemCandidate.work_item_id))).where(
            WorkItemCandidate.candidate.in_(actor.candidates), *conditions).scalar_subquery()

    unclaimed = WorkItemCandidate.assignee.is_(None)
    return {
        "mine": mine(),
        "groups": offered(),
        "unclaimed": offered(unclaimed),
        "overdue": mine(WorkItem.due_at < now) + offered(unclaimed, due < now),
        "due_soon": mine(WorkItem.due_at >= now, WorkItem.due_at < soon) + offered(unclaimed, due >= now, due < soon),
    }


def counts(session: Session, actor: Actor, now: datetime, within_days: int = 3) -> dict[str, int]:
    """Every view's count in one statement."""
    columns = _count_columns(actor, now, within_days)
    if "department" in views_of(actor):
        roles = department_roles(session, actor.department)
        columns["department"] = sa.select(sa.func.count()).select_from(WorkItem).where(
            _department_filter(actor, roles)).scalar_subquery()
    row = session.execute(sa.select(*(column.label(view) for view, column in columns.items()))).one()
    return dict(row._mapping)
