"""Queues (待办) and their counts, read from the work-item tables alone (engine/runtime/workitems.py keeps them).

A queue in due order is a merge of index-ordered streams: "my tasks" is one range of work_items by
assignee, a role queue one range of work_item_candidates per candidate key. Each stream's first
offset + limit rows are read off its index and the merge keeps the page's distinct items, so the first
page of a queue of fifty thousand costs what it costs for fifty. Other orders and filtered queues are one plain query.

Counts are range counts of the same indexes. An item offered under several of an actor's keys would be
met once per key; only rows marked `shared` can be, so only those are counted DISTINCT.

The department view shows a leader colleagues' tasks, not their own: it lists and counts only items in
the leader's read scope (engine/org/access.py), with one plain query. The other views list what is
offered to the actor, which the scope covers; their rows show an item only where it is in scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.org import access
from engine.org.organisation import Actor
from engine.reads import matching
from engine.runtime import recusal
from engine.store.models import Petition, User, UserRole, WorkItem, WorkItemCandidate

QUEUES = ("mine", "groups", "overdue", "due_soon")  # "groups": my groups' unclaimed tasks
DEPARTMENT_VIEWERS = frozenset({"handling_leader", "petition_head"})  # may watch their whole department
COMMISSION_ROLES = frozenset({"leader_in_charge", "principal_leader", "admin", "auditor", "process_owner"})

URGENT = "urgent"  # the registry's urgency that puts an item first


@dataclass(frozen=True)
class Sort:
    """A column a queue may be ordered by, in its natural direction unless the query asks otherwise;
    `petition`: the column is the item's, so the query joins the registry; `tie`: the row id that breaks ties."""

    column: Any
    natural: str = "asc"
    petition: bool = False
    tie: Any = None  # None: the work item's id (a column as a default would act as a descriptor here)

    def order_by(self, direction: str | None) -> tuple:
        """(empty last, the column, the tie): rows without a value come last in either direction."""
        descending = (direction or self.natural) == "desc"
        ordered = self.column.desc() if descending else self.column.asc()
        tie = WorkItem.id if self.tie is None else self.tie
        return self.column.is_(None), ordered, tie.desc() if descending else tie.asc()


SORTS = {
    "due": Sort(WorkItem.due_at),
    "arrived": Sort(WorkItem.created_at, "desc"),
    "case": Sort(WorkItem.case_id, "desc"),
    "name": Sort(WorkItem.name),
    "number": Sort(Petition.registration_number, "desc", petition=True),
    "received": Sort(Petition.received_on, "desc", petition=True),
    "urgency": Sort(sa.case((Petition.urgency == URGENT, 1), else_=0), "desc", petition=True),
}
DIRECTIONS = ("asc", "desc")


@dataclass(frozen=True)
class QueueQuery:
    view: str = "mine"  # one of QUEUES, or "department"
    within_days: int = 3  # for due_soon
    limit: int = 50
    offset: int = 0
    sort: str = "due"  # one of SORTS
    direction: str | None = None  # asc | desc; None: the sort's natural direction
    text: str = ""  # words in the task name, or the item's number, summary or accused (engine/reads/matching.py)
    stage: str | None = None  # process id of the task (intake, handling, ...)
    channel: str | None = None  # petition registry columns
    category: str | None = None
    department: str | None = None  # the item's handling department

    @property
    def unfiltered(self) -> bool:
        return not (self.stage or self.channel or self.category or self.department or self.text.strip())


def views_of(actor: Actor) -> tuple[str, ...]:
    return QUEUES + ("department",) if actor.roles & DEPARTMENT_VIEWERS and actor.department else QUEUES


@dataclass(frozen=True)
class Department:
    """What a department view covers: items bound to the department, items bound to none that are
    offered to a role its members hold (`unbound_keys`), and items assigned to its members."""

    code: str
    unbound_keys: list[str]
    members: list[str]


def department_of(session: Session, actor: Actor) -> Department:
    """The actor's department as its view sees it: members and their roles as they are now."""
    holders = session.execute(
        sa.select(User.name, UserRole.role_name).outerjoin(UserRole, UserRole.user_name == User.name)
        .where(User.department == actor.department)
    ).all()
    roles = {role for _, role in holders if role} - COMMISSION_ROLES
    return Department(code=actor.department or "", unbound_keys=sorted(f"role:{role}" for role in roles),
                      members=sorted({name for name, _ in holders}))


# ---- pages ------------------------------------------------------------------------------------------


def queue(session: Session, actor: Actor, query: QueueQuery, now: datetime) -> list[WorkItem]:
    """A page of a queue, in the query's order."""
    if query.sort not in SORTS or query.direction not in (None, *DIRECTIONS):
        raise ValueError(f"未知的排序方式：{query.sort} {query.direction or ''}")
    sort = SORTS[query.sort]
    if query.sort == "due" and query.direction in (None, "asc") and query.unfiltered and query.view != "department":
        ids = _first_ids(session, _streams(session, actor, query, now), query.offset + query.limit)
        ids = ids[query.offset:query.offset + query.limit]
        rows = {row.id: row for row in session.scalars(sa.select(WorkItem).where(WorkItem.id.in_(ids)))}
        return [rows[item_id] for item_id in ids if item_id in rows]
    statement = sa.select(WorkItem).where(_query_filter(session, actor, query, now))
    if sort.petition:
        statement = statement.outerjoin(Petition, Petition.case_id == WorkItem.case_id)
    then_due = () if query.sort == "due" else (WorkItem.due_at.is_(None), WorkItem.due_at)
    order = sort.order_by(query.direction)
    statement = statement.order_by(*order[:2], *then_due, order[2]).limit(query.limit).offset(query.offset)
    return list(session.scalars(statement))


@dataclass(frozen=True)
class _Stream:
    """Rows of one index range, in due order: the item id, its due time and the range's conditions."""

    id: Any
    due: Any
    where: tuple

    @classmethod
    def items(cls, *where) -> _Stream:
        return cls(WorkItem.id, WorkItem.due_at, where)

    @classmethod
    def offered(cls, *where) -> _Stream:
        return cls(WorkItemCandidate.work_item_id, WorkItemCandidate.due_at, where)


def _streams(session: Session, actor: Actor, query: QueueQuery, now: datetime) -> list[_Stream]:
    mine = WorkItem.assignee == actor.name
    unclaimed = sa.and_(WorkItemCandidate.assignee.is_(None),
                        recusal.not_excluded(actor, WorkItemCandidate.work_item_id))
    keys = [WorkItemCandidate.candidate == key for key in actor.candidates]
    if query.view == "mine":
        return [_Stream.items(mine)]
    if query.view == "groups":
        return [_Stream.offered(key, unclaimed) for key in keys]
    if query.view in ("overdue", "due_soon"):
        items_due, offered_due = _window(query.view, now, query.within_days)
        return [_Stream.items(mine, *items_due)] + [_Stream.offered(key, unclaimed, *offered_due) for key in keys]
    raise ValueError(f"未知的待办视图：{query.view}")


def _window(view: str, now: datetime, within_days: int) -> tuple[tuple, tuple]:
    """The due-time conditions of the overdue or due-soon view, on work_items and on candidate rows."""
    soon = now + timedelta(days=within_days)
    if view == "overdue":
        return (WorkItem.due_at < now,), (WorkItemCandidate.due_at < now,)
    return ((WorkItem.due_at >= now, WorkItem.due_at < soon),
            (WorkItemCandidate.due_at >= now, WorkItemCandidate.due_at < soon))


def _first_ids(session: Session, streams: Sequence[_Stream], count: int) -> list[int]:
    """The first `count` distinct item ids of the streams together, due ones by (due, id), then the rest
    by id. Any of them is among the first `count` of each stream it is in, so those are all one reads."""
    parts = []
    for stream in streams:
        columns = (stream.id.label("id"), stream.due.label("due"))
        if session.get_bind().dialect.name == "postgresql":
            # A btree keeps NULLs last: one ordered index scan. (Split like SQLite's, the undated part
            # was planned as a walk of the primary key in id order, which for a key with few undated
            # items reads the whole table.)
            parts.append(sa.select(*columns).where(*stream.where)
                         .order_by(stream.due.asc().nulls_last(), stream.id).limit(count).subquery())
            continue
        # SQLite sorts NULLs first and can read `due IS NULL` in id order off the same index.
        parts.append(sa.select(*columns).where(*stream.where, stream.due.is_not(None))
                     .order_by(stream.due, stream.id).limit(count).subquery())
        parts.append(sa.select(*columns).where(*stream.where, stream.due.is_(None))
                     .order_by(stream.id).limit(count).subquery())
    rows = session.execute(sa.union_all(*(sa.select(part.c.id, part.c.due) for part in parts))).all()
    dated = sorted((row.due, row.id) for row in rows if row.due is not None)
    undated = sorted(row.id for row in rows if row.due is None)
    return list(dict.fromkeys([item_id for _, item_id in dated] + undated))[:count]


# ---- filtered queues: one query -----------------------------------------------------------------------


def _offered_ids(keys: Sequence[str]) -> sa.Select:
    return sa.select(WorkItemCandidate.work_item_id).where(WorkItemCandidate.candidate.in_(keys))


def queue_filter(session: Session, actor: Actor, view: str, now: datetime, within_days: int = 3):
    """The WHERE clause of a queue; all views but "department" only show items the actor may work on."""
    offered = sa.and_(WorkItem.id.in_(_offered_ids(actor.candidates)), recusal.not_excluded(actor, WorkItem.id))
    mine = WorkItem.assignee == actor.name
    if view == "mine":
        return mine
    if view == "groups":
        return sa.and_(WorkItem.assignee.is_(None), offered)
    if view in ("overdue", "due_soon"):
        due, _ = _window(view, now, within_days)
        return sa.and_(sa.or_(mine, sa.and_(WorkItem.assignee.is_(None), offered)), *due)
    if view == "department" and view in views_of(actor):
        department = department_of(session, actor)
        return sa.and_(sa.or_(
            WorkItem.department == department.code,
            sa.and_(WorkItem.department.is_(None), WorkItem.id.in_(_offered_ids(department.unbound_keys))),
            WorkItem.assignee.in_(department.members),
        ), WorkItem.case_id.in_(access.scoped_cases(actor)))
    raise ValueError(f"未知的待办视图：{view}")


def _query_filter(session: Session, actor: Actor, query: QueueQuery, now: datetime):
    conditions = [queue_filter(session, actor, query.view, now, query.within_days)]
    if query.stage:
        conditions.append(WorkItem.process_id == query.stage)
    if query.text.strip():
        conditions.append(sa.or_(matching.contains(WorkItem.name, query.text),
                                 WorkItem.case_id.in_(matching.petition_text(query.text, access.scoped_cases(actor)))))
    registry = {"channel": Petition.channel, "category": Petition.category, "department": Petition.handling_department}
    picked = [column == getattr(query, name) for name, column in registry.items() if getattr(query, name)]
    if picked:
        conditions.append(WorkItem.case_id.in_(sa.select(Petition.case_id).where(*picked)))
    return sa.and_(*conditions)


# ---- counts -----------------------------------------------------------------------------------------


def queue_total(session: Session, actor: Actor, query: QueueQuery, now: datetime) -> int:
    if query.unfiltered:
        return counts(session, actor, now, query.within_days)[query.view]
    statement = sa.select(sa.func.count(WorkItem.id)).where(_query_filter(session, actor, query, now))
    return session.scalar(statement) or 0


def counts(session: Session, actor: Actor, now: datetime, within_days: int = 3,
           also: dict[str, Any] | None = None) -> dict[str, int]:
    """Every view's count in one statement: one pass over the actor's own items and one over the rows
    offered to it, each counting every view at once. `also`: more scalar counts to read with them."""
    unclaimed = sa.and_(WorkItemCandidate.assignee.is_(None),
                        recusal.not_excluded(actor, WorkItemCandidate.work_item_id))
    overdue_items, overdue_offered = _window("overdue", now, within_days)
    soon_items, soon_offered = _window("due_soon", now, within_days)
    tallies = _Tallies()
    mine = tallies.count(WorkItem.id, [WorkItem.assignee == actor.name],
                         {"all": None, "overdue": sa.and_(*overdue_items), "due_soon": sa.and_(*soon_items)})
    offered = tallies.offered(actor.candidates, {"all": None, "overdue": sa.and_(*overdue_offered),
                                                 "due_soon": sa.and_(*soon_offered)}, unclaimed)
    columns = {"mine": mine["all"], "groups": offered["all"],
               "overdue": mine["overdue"] + offered["overdue"], "due_soon": mine["due_soon"] + offered["due_soon"]}
    if "department" in views_of(actor):
        columns["department"] = tallies.count(WorkItem.id, [queue_filter(session, actor, "department", now)],
                                              {"all": None})["all"]
    return tallies.read(session, {**columns, **(also or {})})


class _Tallies:
    """Aggregate rows, each one index range scan counting several things at once, read together in one
    statement."""

    def __init__(self) -> None:
        self.rows: list[sa.Subquery] = []

    def count(self, counted, where: list, filters: dict[str, Any], distinct: bool = False) -> dict[str, Any]:
        """`SELECT count(*) FILTER (WHERE …), … WHERE …`: a count per filter (None: every row)."""
        measure = sa.func.count(sa.distinct(counted)) if distinct else sa.func.count()  # count(*): index only
        row = sa.select(*((measure if condition is None else measure.filter(condition)).label(name)
                          for name, condition in filters.items())).where(*where).subquery()
        self.rows.append(row)
        return {name: row.c[name] for name in filters}

    def offered(self, keys: Sequence[str], filters: dict[str, Any], *where) -> dict[str, Any]:
        """Items offered under any of `keys` (and `where`), per filter: rows of single-key items are
        counted as they are, the others DISTINCT."""
        candidate = WorkItemCandidate
        single = self.count(candidate.work_item_id,
                            [candidate.candidate.in_(keys), candidate.shared == sa.false(), *where], filters)
        shared = self.count(candidate.work_item_id,
                            [candidate.candidate.in_(keys), candidate.shared == sa.true(), *where], filters,
                            distinct=True)
        return {name: single[name] + shared[name] for name in filters}

    def read(self, session: Session, columns: dict[str, Any]) -> dict[str, int]:
        joined = self.rows[0]
        for row in self.rows[1:]:  # one row each: joined on true, without a cartesian-product warning
            joined = joined.join(row, sa.true())
        values = session.execute(sa.select(*(column.label(view) for view, column in columns.items()))
                                 .select_from(joined)).one()
        return {view: int(value) for view, value in values._mapping.items()}
