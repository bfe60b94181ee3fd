"""Stale incidents: an open incident whose failed command no longer applies — its task was completed
another way (e.g. resubmitted once the calendar was fixed), its timer is gone, the event a message or
signal was delivered to no longer waits, or the case has ended —
closes itself, so no case shows an incident nobody can act on. Run in every command's transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.runtime import incidents
from engine.store.models import Case, EventSubscription, Incident, Timer, WorkItem


def why_stale(session: Session, incident: Incident) -> str | None:
    """Why the incident no longer applies (in Chinese), or None while its command could still be re-run."""
    status = session.scalar(sa.select(Case.status).where(Case.id == incident.case_id))
    if status != "running":
        return "案件已办结，该异常不再适用"
    command = incident.command
    if command.get("command") == "complete" and session.scalar(
            sa.select(WorkItem.id).where(WorkItem.task_id == command["task_id"])) is None:
        return "出错的任务已经办理（或已不在待办），该异常不再适用"
    if command.get("command") == "deliver" and session.scalar(_waits_for(incident.case_id, command)) is None:
        return "出错的事件已不再等待该消息或信号，该异常不再适用"
    if command.get("command") == "fire_timer" and session.scalar(
            sa.select(Timer.id).where(Timer.id == command["timer_id"])) is None:
        return "出错的定时器已不再等待，该异常不再适用"
    return None


# Built once (as the command runner's statements): every command asks, and nearly always finds none.
_OPEN = (sa.select(Incident).where(Incident.case_id == sa.bindparam("case_key"), Incident.resolved_at.is_(None))
         .order_by(Incident.id))


def _waits_for(case_id: int, command: dict) -> sa.Select:
    """A subscription still waiting for the delivered message or signal (at the task it was meant for)."""
    query = sa.select(EventSubscription.id).where(
        EventSubscription.case_id == case_id, EventSubscription.kind == command["kind"],
        EventSubscription.name == command["name"])
    if command.get("task_id"):
        query = query.where(EventSubscription.task_id == command["task_id"])
    return query.limit(1)


def sweep(session: Session, case_id: int, deployment_id: int, now: datetime, by: str) -> list[int]:
    """Close the case's stale open incidents (the command run by `by` made them so); returns their ids."""
    session.flush()
    closed = []
    for incident in session.scalars(_OPEN, {"case_key": case_id}).all():
        reason = why_stale(session, incident)
        if reason is not None:
            incidents.conclude(session, incident, now, "stale", by, deployment_id, {"reason": reason}, reason)
            closed.append(incident.id)
    return closed
