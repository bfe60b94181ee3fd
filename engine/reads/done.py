"""已办: the tasks a user completed, newest first, read from the completed-task table alone (written by
the completing command, engine/runtime/commands.py) and limited to the cases the user may read now:
a case that has left the reader's scope (recusal, a sealing, an accusation of the reader) drops out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.org import access
from engine.org.organisation import Actor
from engine.reads import matching, queues
from engine.store.models import CompletedTask, Petition

SORTS = {
    "completed": queues.Sort(CompletedTask.completed_at, "desc", tie=CompletedTask.id),
    "due": queues.Sort(CompletedTask.due_at, tie=CompletedTask.id),
    "name": queues.Sort(CompletedTask.name, tie=CompletedTask.id),
    "case": queues.Sort(CompletedTask.case_id, "desc", tie=CompletedTask.id),
    "number": queues.Sort(Petition.registration_number, "desc", petition=True, tie=CompletedTask.id),
    "received": queues.Sort(Petition.received_on, "desc", petition=True, tie=CompletedTask.id),
}


@dataclass(frozen=True)
class DoneQuery:
    text: str = ""
    stage: str | None = None
    sort: str = "completed"  # one of SORTS
    direction: str | None = None  # asc | desc; None: the sort's natural direction
    limit: int = 50
    offset: int = 0


def _where(actor: Actor, query: DoneQuery) -> list:
    scope = access.scoped_cases(actor)
    conditions = [CompletedTask.completed_by == actor.name, CompletedTask.case_id.in_(scope)]
    if query.stage:
        conditions.append(CompletedTask.process_id == query.stage)
    if query.text.strip():
        conditions.append(sa.or_(matching.contains(CompletedTask.name, query.text),
                                 CompletedTask.case_id.in_(matching.petition_text(query.text, scope))))
    return conditions


def done(session: Session, actor: Actor, query: DoneQuery) -> tuple[list[CompletedTask], int]:
    """A page of the actor's completed tasks in the query's order, and how many there are in all."""
    if query.sort not in SORTS or query.direction not in (None, *queues.DIRECTIONS):
        raise ValueError(f"未知的排序方式：{query.sort} {query.direction or ''}")
    sort = SORTS[query.sort]
    where = _where(actor, query)
    statement = sa.select(CompletedTask).where(*where)
    if sort.petition:
        statement = statement.outerjoin(Petition, Petition.case_id == CompletedTask.case_id)
    rows = list(session.scalars(statement.order_by(*sort.order_by(query.direction))
                                .limit(query.limit).offset(query.offset)))
    total = session.scalar(sa.select(sa.func.count()).select_from(CompletedTask).where(*where)) or 0
    return rows, total


def as_row(task: CompletedTask) -> dict[str, Any]:
    return {"task_id": task.task_id, "case_id": task.case_id, "name": task.name, "process_id": task.process_id,
            "completed_at": task.completed_at, "arrived_at": task.arrived_at, "due_at": task.due_at,
            "late": task.due_at is not None and task.completed_at > task.due_at}
