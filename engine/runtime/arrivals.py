"""What happens as a user task arrives: whom it returns to, and who must not take it.

- Return to owner: a task re-entered in a case (the same task of the same process completed before,
  also in an earlier call of a called process), or a task whose camunda:property `assignee_from` names
  earlier tasks (BPMN ids, comma-separated; the newest completion counts), goes straight to the person
  who completed that earlier round. `assignee_from="pool"` turns this off; a diagram-given
  camunda:assignee wins. A person no longer active, without the task's role or department, or who must
  not handle it (`recusal.conflict`) does not get it: the task goes to the pool and the event says why.
- Separation of duties: camunda:property `not_by` (BPMN ids) excludes whoever completed those tasks in
  the case; `not_by_leaders` (role ids) also excludes the holders of those roles in the department of
  each excluded person (their own department leader). Kept per item in work_item_exclusions, read by
  `recusal.conflict` and the queues.
- Arrival notices: holders of a role with the setting `notify_on_arrival` (leaders, reviewers) get a
  notice when a task arrives for them: the assignee it returned to, or else every candidate of the role
  not excluded from it.
The properties are checked at deploy (engine/bpmn/assignment_rules.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.bpmn.assignment_rules import ASSIGNEE_FROM, NOT_BY, NOT_BY_LEADERS, POOL, ids
from engine.org.organisation import UnknownUser, arrival_roles, load_actor
from engine.runtime import recusal, workitems
from engine.secrets.keys import Keyring
from engine.store.models import Event, Notice, Petition, User, UserRole, WorkItem, WorkItemExclusion


@dataclass(frozen=True)
class Rules:
    """A user task's assignment properties, as the diagram states them."""

    assignee_from: tuple[str, ...] | None  # None: the task's own earlier round
    not_by: tuple[str, ...] = ()
    not_by_leaders: tuple[str, ...] = ()

    @classmethod
    def of(cls, properties: dict[str, str]) -> Rules:
        source = properties.get(ASSIGNEE_FROM)
        return cls(None if source is None else ids(source), ids(properties.get(NOT_BY)),
                   ids(properties.get(NOT_BY_LEADERS)))


@dataclass(frozen=True)
class Done:
    """The task the running command completed: its event is written after the arrivals are routed."""

    process_id: str | None
    bpmn_id: str | None
    actor: str


def route(session: Session, keyring: Keyring, case_id: int, created: Iterable[WorkItem],
          rules_of: Callable[[WorkItem], Rules], done: Done | None, now: datetime) -> dict[str, list]:
    """Exclusions, then the assignee of each new item; returns what the command's event records:
    `returned_to` (task, person), `to_pool` (task, person, why) and `recused_assignees` (names)."""
    notes: dict[str, list] = {"returned_to": [], "to_pool": [], "recused_assignees": []}
    created = list(created)
    for item in created:
        rules = rules_of(item)
        _exclude(session, case_id, item, rules, done)
        given = item.assignee is not None
        owner = item.assignee if given else _earlier_owner(session, case_id, item, rules, done)
        if owner is None:
            continue
        why = _unfit(session, keyring, item, owner, need_role=not given)
        if why is None:
            if not given:
                _assign(session, item, owner)
                notes["returned_to"].append({"task": item.name, "assignee": owner})
            continue
        if given:
            notes["recused_assignees"].append(owner)
            _assign(session, item, None)
        notes["to_pool"].append({"task": item.name, "person": owner, "why": why})
    if created:
        _notify(session, keyring, case_id, created, now)
    return {key: value for key, value in notes.items() if value}


def _notify(session: Session, keyring: Keyring, case_id: int, created: list[WorkItem], now: datetime) -> None:
    notified = arrival_roles(session)
    number = session.scalar(sa.select(Petition.registration_number).where(Petition.case_id == case_id))
    where = f"信访件 {number}" if number else f"案件 {case_id}"
    for item in created:
        roles = notified.intersection(item.candidate_groups)
        if not roles:
            continue
        query = (sa.select(User.name).join(UserRole, UserRole.user_name == User.name)
                 .where(User.active.is_(True), UserRole.role_name.in_(roles)).distinct())
        if item.assignee:
            query = query.where(User.name == item.assignee)
        elif item.department:
            query = query.where(User.department == item.department)
        for name in session.scalars(query.order_by(User.name)):
            person = load_actor(session, name)
            if recusal.conflict(session, keyring, case_id, person, item):
                continue
            session.add(Notice(case_id=case_id, username=name, kind="arrived", created_at=now,
                               text=f"{where} 的“{item.name}”已到达您的待办，请及时办理。"))


def _earlier_owner(session: Session, case_id: int, item: WorkItem, rules: Rules, done: Done | None) -> str | None:
    if rules.assignee_from is None:
        if done and (done.process_id, done.bpmn_id) == (item.process_id, item.bpmn_id):
            return done.actor
        where = (Event.process_id == item.process_id, Event.bpmn_id == item.bpmn_id)
    elif POOL in rules.assignee_from:
        return None
    else:
        if done and done.bpmn_id in rules.assignee_from:
            return done.actor
        where = (Event.bpmn_id.in_(rules.assignee_from),)
    return session.scalar(sa.select(Event.actor).where(Event.case_id == case_id, Event.kind == "complete", *where)
                          .order_by(Event.id.desc()).limit(1))


def _unfit(session: Session, keyring: Keyring, item: WorkItem, name: str, need_role: bool) -> str | None:
    """Why `name` does not get the item (a Chinese sentence for the case timeline), or None. A
    diagram-given assignee needs no candidate role, as in Camunda; an earlier round's owner does."""
    try:
        person = load_actor(session, name)
    except UnknownUser:
        return "办理人不存在或已停用"
    unassigned = WorkItem(candidate_groups=item.candidate_groups, candidate_users=item.candidate_users,
                          department=item.department, assignee=None)
    if need_role and not workitems.may_work_on(person, unassigned):
        return "原办理人已不具备该任务的角色或部门"
    if recusal.conflict(session, keyring, item.case_id, person, item):
        return "原办理人对该任务应当回避"
    return None


def _assign(session: Session, item: WorkItem, name: str | None) -> None:
    item.assignee = name
    session.flush()
    workitems.copy_assignee(session, item.id, name)


def _exclude(session: Session, case_id: int, item: WorkItem, rules: Rules, done: Done | None) -> None:
    if not rules.not_by:
        return
    names = set(session.scalars(sa.select(Event.actor).where(
        Event.case_id == case_id, Event.kind == "complete", Event.bpmn_id.in_(rules.not_by))))
    if done and done.bpmn_id in rules.not_by:
        names.add(done.actor)
    if names and rules.not_by_leaders:
        departments = sa.select(User.department).where(User.name.in_(names), User.department.is_not(None))
        names |= set(session.scalars(sa.select(UserRole.user_name).join(User, User.name == UserRole.user_name)
                                     .where(UserRole.role_name.in_(rules.not_by_leaders),
                                            User.department.in_(departments))))
    session.add_all(WorkItemExclusion(work_item_id=item.id, user_name=name) for name in sorted(names))
    session.flush()

