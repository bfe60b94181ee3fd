"""Who works on a queued task: claim, release, reassign. Each is a conditional update of the work item —
two people claiming at once, exactly one gets it — and an audit event, in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine import audit
from engine.audit.chain import TaskAddress
from engine.errors import Conflict, EngineError, Forbidden
from engine.org.organisation import Actor, display_name
from engine.runtime import workitems
from engine.store.models import Case, Notice, User, WorkItem

REASSIGNERS = frozenset({"admin", "petition_head"})  # may release or hand on a task someone else holds
MAX_REASON = 500


class ReasonMissing(EngineError):
    """A reassignment without a reason: the form keeps what was chosen and shows this message."""


def claim(session: Session, item: WorkItem, actor: Actor, now: datetime) -> None:
    if item.assignee == actor.name:
        return
    if item.assignee:
        raise Conflict(f"该任务已由 {display_name(session, item.assignee)} 领取")
    if not workitems.may_work_on(actor, item):
        raise Forbidden("您不是该任务的候选人，不能领取")
    _set_assignee(session, item, None, actor.name)
    _log(session, item, actor, now, "claim", {"assignee": actor.name})


def release(session: Session, item: WorkItem, actor: Actor, now: datetime) -> None:
    if item.assignee != actor.name and not actor.roles & REASSIGNERS:
        raise Forbidden("只有领取人或信访室主任可以退回该任务")
    previous = item.assignee
    if previous is None:
        return
    _set_assignee(session, item, previous, None)
    _log(session, item, actor, now, "unclaim", {"previous": previous})


def reassign(session: Session, item: WorkItem, actor: Actor, to: Actor, reason: str, now: datetime) -> None:
    """Hand the task on (the holder delegates it, or the head reassigns it): the reason is required and
    kept in the event; the new assignee gets a notice."""
    reason = (reason or "").strip()
    if not reason:
        raise ReasonMissing("请填写转交理由")
    if len(reason) > MAX_REASON:
        raise ReasonMissing(f"转交理由最多 {MAX_REASON} 个字")
    if item.assignee != actor.name and not actor.roles & REASSIGNERS:
        raise Forbidden("只有当前办理人或信访室主任可以转交该任务")
    unassigned = WorkItem(candidate_groups=item.candidate_groups, candidate_users=item.candidate_users,
                          department=item.department, assignee=None)
    if not workitems.may_work_on(to, unassigned):
        raise Forbidden(f"{to.label} 不是该任务的候选人（角色或部门不符），不能转交")
    previous = item.assignee
    _set_assignee(session, item, previous, to.name)
    _log(session, item, actor, now, "reassign", {"previous": previous, "assignee": to.name, "reason": reason})
    if session.get(User, to.name) is not None:  # notices go to user rows; callers may act for system actors
        session.add(Notice(case_id=item.case_id, username=to.name, kind="reassigned", created_at=now,
                           text=f"{actor.label} 将任务“{item.name}”转交给您办理。理由：{reason}"))


def _set_assignee(session: Session, item: WorkItem, expected: str | None, assignee: str | None) -> None:
    condition = WorkItem.assignee.is_(None) if expected is None else WorkItem.assignee == expected
    updated = session.execute(sa.update(WorkItem).where(WorkItem.id == item.id, condition).values(assignee=assignee))
    if updated.rowcount != 1:
        raise Conflict("该任务刚被他人领取或转交，请刷新后重试")
    workitems.copy_assignee(session, item.id, assignee)


def _log(session: Session, item: WorkItem, actor: Actor, now: datetime, kind: str, payload: dict) -> None:
    case = session.get(Case, item.case_id)
    audit.append(session, kind=kind, actor=actor.name, at=now, payload=payload, case_id=item.case_id,
                 deployment_id=case.deployment_id, task=TaskAddress(item.process_id, item.bpmn_id, item.ordinal),
                 task_id=item.task_id)
