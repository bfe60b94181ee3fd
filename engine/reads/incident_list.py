"""The incident list (流程异常) the process owners and administrators work from: open ones with what
failed where and for whom, closed ones with how and by whom they were closed. Fixing an incident needs no
reading of the case: a reader sees an item's registration number (and may follow it) only when the item
is in their read scope (engine/org/access.py), else just the case id."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.errors import Forbidden
from engine.org import access
from engine.org.organisation import Actor
from engine.reads.casepage import SYSTEM_ACTORS
from engine.reads.views import display_names, process_names
from engine.runtime.incidents import FIXERS, RESOLUTIONS
from engine.store.models import Case, Incident, Petition

STATES = {"open": "未处理", "closed": "已关闭"}
LIMIT = 500


def may_see(actor: Actor) -> bool:
    return bool(actor.roles & FIXERS)


def scoped(session: Session, actor: Actor, state: str) -> list[dict[str, Any]]:
    if not may_see(actor):
        raise Forbidden("只有流程管理员和系统管理员可以查看流程异常")
    return incidents(session, state, actor)


def open_count() -> sa.ScalarSelect:
    """How many incidents are open, as a subquery for the navigation's one statement."""
    return sa.select(sa.func.count()).select_from(Incident).where(Incident.resolved_at.is_(None)).scalar_subquery()


def open_on_task(session: Session, case_id: int, task_id: str) -> dict[str, Any] | None:
    """The open incident of a task's last failed submission (id, message, attempts), for its task page."""
    rows = session.scalars(sa.select(Incident).where(Incident.case_id == case_id, Incident.resolved_at.is_(None))
                           .order_by(Incident.id))
    found = next((row for row in rows if row.command.get("task_id") == task_id), None)
    return {"id": found.id, "message": found.message, "attempts": found.attempts} if found else None


def incidents(session: Session, state: str = "open", reader: Actor | None = None) -> list[dict[str, Any]]:
    """Newest first; `state` is "open" or "closed". `reader` None: the operator at the command line."""
    if state not in STATES:
        raise ValueError(f"未知的异常状态：{state}（可选：{'、'.join(STATES)}）")
    is_open = Incident.resolved_at.is_(None)
    rows = session.execute(
        sa.select(Incident, Petition.registration_number).outerjoin(Petition, Petition.case_id == Incident.case_id)
        .where(is_open if state == "open" else ~is_open)
        .order_by(Incident.created_at.desc(), Incident.id.desc()).limit(LIMIT)).all()
    submitters = {_submitter(row.Incident) for row in rows}
    people = {**SYSTEM_ACTORS, **display_names(session, submitters | {r.Incident.resolved_by for r in rows} - {None})}
    stages = process_names(session)
    cases = {row.Incident.case_id for row in rows}
    readable = cases if reader is None else set(session.scalars(
        access.scoped_cases(reader).where(Case.id.in_(cases)))) if cases else set()
    return [_row(incident, number, incident.case_id in readable, people, stages) for incident, number in rows]


def _submitter(incident: Incident) -> str:
    actor = incident.command.get("actor") or {}
    return actor if isinstance(actor, str) else actor.get("name", "")


def _row(incident: Incident, number: str | None, readable: bool, people: dict[str, str],
         stages: dict[str, str]) -> dict[str, Any]:
    submitter = _submitter(incident)
    return {
        "id": incident.id, "case_id": incident.case_id, "readable": readable,
        "registration_number": number if readable else None,
        "stage": stages.get(incident.process_id, incident.process_id) if incident.process_id else None,
        "bpmn_id": incident.bpmn_id, "task_name": incident.task_name or incident.bpmn_id,
        "message": incident.message, "error_type": incident.error_type, "attempts": incident.attempts,
        "created_at": incident.created_at, "submitted_by": people.get(submitter, submitter),
        "resolved_at": incident.resolved_at, "resolution": incident.resolution,
        "resolution_label": RESOLUTIONS.get(incident.resolution or "", ""),
        "resolved_by": people.get(incident.resolved_by, incident.resolved_by), "note": incident.note,
    }
