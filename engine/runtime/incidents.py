"""Incidents: a command that fails inside the engine is rolled back whole and recorded here with what
it takes to run it again — as it was (retry), or completing the failing task without executing it (skip).
A process owner or administrator (the fixers, who are notified of each new incident) may instead close it
with a note (resolve); one whose work moved on closes itself (engine/runtime/stale_incidents.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

import sqlalchemy as sa
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

from engine import audit
from engine.audit.chain import TaskAddress
from engine.bpmn import task_errors
from engine.bpmn.expressions import LimitExceeded
from engine.bpmn.forms import FormErrors
from engine.errors import EngineError, Forbidden, IncidentRaised, NotFound
from engine.jsonutil import jsonable
from engine.org import access
from engine.org.organisation import Actor, load_actor
from engine.runtime.assignment import REASSIGNERS
from engine.runtime.casestate import StuckCase
from engine.store.db import Database
from engine.store.models import Case, Incident, Notice, Petition, Timer, User, UserRole
from engine.timing.calendar import CalendarMissingError

FIXERS = frozenset({"process_owner", "admin"})  # see every incident, are told of new ones, may close them
RESOLVERS = REASSIGNERS | FIXERS  # besides the person whose command failed, may retry or skip
RESOLUTIONS = {"retry": "重试成功", "skip": "跳过出错环节", "resolve": "人工处理", "stale": "已失效，自动关闭"}

# How a failure reads to staff when the library's text is English (a script's own error)
ERROR_KINDS = {
    "ZeroDivisionError": "除数为零", "NameError": "用到了未定义的名称", "KeyError": "缺少需要的数据项",
    "AttributeError": "用到了不存在的属性", "TypeError": "数据类型不符", "ValueError": "数据取值不合法",
    "IndexError": "列表下标越界", "RuntimeError": "运行出错", "StuckCase": "流程无法继续推进",
}


class NoteMissing(EngineError):
    """Closing an incident by hand needs a note saying what was done."""


def incident_owner(incident_id: int) -> str:
    """The lease owner of a timer parked until its incident is resolved."""
    return f"incident:{incident_id}"


@dataclass(frozen=True)
class Resolution:
    """A command re-run to resolve an incident."""

    incident_id: int
    skip: tuple[str, ...]  # BPMN ids completed without running, in the order they are reached
    resolver: Actor
    kind: str  # retry | skip


def actor_record(actor: Actor) -> dict:
    return {"name": actor.name, "display_name": actor.display_name, "department": actor.department,
            "roles": sorted(actor.roles)}


def _actor_from_record(record: dict | str) -> Actor:
    if isinstance(record, str):
        return Actor(record)
    return Actor(record["name"], record.get("display_name", ""), record.get("department"),
                 frozenset(record.get("roles", ())))


class Failure(Exception):
    """A failure inside the engine run, turned into an incident once the transaction is rolled back.
    `unexpected`: not an error a diagram, its data or the calendar can cause (a defect to report)."""

    def __init__(self, error: Exception, task: Task | None = None, unexpected: bool = False) -> None:
        super().__init__(str(error))
        task = task or getattr(error, "task", None)
        cause = getattr(error, "exception", None) or error
        self.process_id = task.workflow.spec.name if task is not None else None
        self.bpmn_id = task.task_spec.bpmn_id if task is not None else None
        self.task_name = (task.task_spec.bpmn_name or task.task_spec.bpmn_id) if task is not None else None
        # SpiffWorkflow's WorkflowTaskException keeps only the name of the exception it wraps.
        wrapped = getattr(error, "error_type", None)
        self.error_type = wrapped if wrapped and wrapped != "unknown" else type(cause).__name__
        self.message = task_errors.unwrapped(error) or getattr(error, "message", None) or str(error)
        # SpiffWorkflow's wrapper says only "Error evaluating expression ..." (or prefixes the type name);
        # these reasons are written for users, so they are shown as they are.
        plain = next((e for e in (cause, error.__cause__, error.__context__)
                      if isinstance(e, (CalendarMissingError, LimitExceeded))), None)
        if plain is not None:
            self.message = str(plain)
        if unexpected:
            self.message = f"流程引擎内部错误（{self.error_type}），请将异常编号告知系统管理员：{self.message}"
        elif plain is None and not _has_chinese(self.message):
            kind = ERROR_KINDS.get(self.error_type, "程序出错")
            self.message = f"脚本或处理函数{kind}（{self.error_type}）：{self.message}"
        self.line = getattr(error, "line_number", None) or None
        self.source_line = getattr(error, "error_line", None) or None


# What a command reports to the person as it is: refusals, form errors, and database trouble (which the
# caller retries; an incident could not be written either).
_REPORTED = (EngineError, FormErrors, sa.exc.SQLAlchemyError)
# What diagrams, their data and the calendar cause; anything else is a defect, reported as such.
_EXPECTED = (SpiffWorkflowException, CalendarMissingError, LimitExceeded, StuckCase, ValueError)


@contextmanager
def failures_as_incidents() -> Iterator[None]:
    """Around the engine's part of a command (loading, input, stepping, syncing, compaction, serialising):
    any exception but a refusal becomes a Failure, so the transaction rolls back and the case gets an
    incident instead of the person a traceback (DESIGN decision 3). Writing the rows stays outside: a
    database that fails there would fail the incident too; the caller retries (the scheduler backs off)."""
    try:
        yield
    except (Failure, *_REPORTED):
        raise
    except Exception as error:
        raise Failure(error, unexpected=not isinstance(error, _EXPECTED)) from error


def record(db: Database, now: datetime, case_id: int, actor: Actor, failure: Failure, command: dict,
           incident_id: int | None = None,
           prepare: Callable[[Session, int, dict], dict] | None = None) -> NoReturn:
    """Record the failure in a transaction of its own, then raise IncidentRaised for the user: the incident
    being resolved, or the open one of the same command's target (a resubmission failing again), or a new
    one, of which the fixers are told. `prepare` turns the command into what the incident may keep."""
    with db.write() as session:
        if prepare is not None:
            command = prepare(session, case_id, command)
        incident = session.get(Incident, incident_id) if incident_id else _open_on(session, case_id, command)
        created = incident is None
        if created:
            incident = Incident(case_id=case_id, created_at=now, attempts=0)
            session.add(incident)
        incident.command = jsonable(command)  # a failed skip keeps the skips made so far
        incident.process_id, incident.bpmn_id, incident.task_name = (
            failure.process_id, failure.bpmn_id, failure.task_name)
        incident.error_type, incident.message = failure.error_type, failure.message
        incident.line, incident.source_line = failure.line, failure.source_line
        incident.attempts += 1
        session.flush()
        case = session.get(Case, case_id)
        audit.append(session, kind="incident", actor=actor.name, at=now, case_id=case_id,
                     deployment_id=case.deployment_id, task=TaskAddress(failure.process_id, failure.bpmn_id),
                     payload={"incident_id": incident.id, "error_type": failure.error_type,
                              "message": failure.message, "line": failure.line, "command": command.get("command")})
        if created:
            _notify_fixers(session, incident, now)
    where = f"在“{failure.task_name}”处" if failure.task_name else ""
    raise IncidentRaised(f"流程{where}出错，案件保持原状，已记录异常 #{incident.id}：{failure.message}",
                         incident.id, case_id)


def resolution_for(session: Session, incident_id: int, resolver: Actor,
                   skip: bool) -> tuple[dict, int, Actor, Resolution]:
    """The failed command as it was given, its case, its original actor, and how it is to be re-run.
    Skips accumulate, so a skip that runs into a second failing task can be skipped in turn."""
    incident = session.get(Incident, incident_id)
    if incident is None or incident.resolved_at is not None:
        raise NotFound(f"异常不存在或已处理：{incident_id}")
    command = dict(incident.command)
    original = _actor_from_record(command["actor"])
    if resolver.name != original.name and not resolver.roles & RESOLVERS:
        raise Forbidden("只有原办理人、信访室主任、流程管理员或系统管理员可以重试或跳过该异常")
    skips = tuple(command.get("skip", ())) + ((incident.bpmn_id,) if skip and incident.bpmn_id else ())
    return command, incident.case_id, original, Resolution(incident_id, skips, resolver, "skip" if skip else "retry")


def close(session: Session, now: datetime, deployment_id: int, resolution: Resolution) -> None:
    """Mark the incident resolved, in the transaction of the command that resolved it."""
    conclude(session, session.get(Incident, resolution.incident_id), now, resolution.kind, resolution.resolver.name,
             deployment_id, {"skipped": list(resolution.skip)})


def resolve(session: Session, now: datetime, incident_id: int, resolver: Actor, note: str) -> None:
    """Close an open incident by hand, with a note of what was done; the case stays where it is. A timer
    parked under the incident is let go, so the scheduler tries it again."""
    if not resolver.roles & FIXERS:
        raise Forbidden("只有流程管理员或系统管理员可以关闭流程异常")
    note = note.strip()
    if not note:
        raise NoteMissing("请填写处理说明：异常是如何处理的，案件接下来怎么办")
    incident = session.get(Incident, incident_id)
    if incident is None or incident.resolved_at is not None:
        raise NotFound(f"异常不存在或已处理：{incident_id}")
    deployment_id = session.scalar(sa.select(Case.deployment_id).where(Case.id == incident.case_id))
    conclude(session, incident, now, "resolve", resolver.name, deployment_id, {"note": note}, note)
    session.execute(sa.update(Timer).where(Timer.lease_owner == incident_owner(incident_id))
                    .values(lease_owner=None, lease_until=None, attempts=0, last_error=None))


def conclude(session: Session, incident: Incident, now: datetime, kind: str, by: str, deployment_id: int,
             payload: dict, note: str | None = None) -> None:
    """Close the incident as `kind` (a key of RESOLUTIONS) and append the matching audit event."""
    incident.resolved_at, incident.resolution, incident.resolved_by, incident.note = now, kind, by, note
    audit.append(session, kind=kind, actor=by, at=now, case_id=incident.case_id, deployment_id=deployment_id,
                 task=TaskAddress(incident.process_id, incident.bpmn_id),
                 payload={"incident_id": incident.id, **payload})


def _target(command: dict) -> tuple:
    """What a command was aimed at: a second failure there continues the same incident."""
    return tuple(command.get(key) for key in ("command", "task_id", "timer_id", "name"))


def _open_on(session: Session, case_id: int, command: dict) -> Incident | None:
    rows = session.scalars(sa.select(Incident).where(Incident.case_id == case_id, Incident.resolved_at.is_(None))
                           .order_by(Incident.id))
    return next((row for row in rows if _target(row.command) == _target(command)), None)


def _notify_fixers(session: Session, incident: Incident, now: datetime) -> None:
    """A notice to each process owner and administrator; one who may not read the case is told its id only
    (no registration number, no link), as the incident list shows it to them."""
    number = session.scalar(sa.select(Petition.registration_number).where(Petition.case_id == incident.case_id))
    step = f"“{incident.task_name}”" if incident.task_name else "流程"
    fixers = (sa.select(User.name).join(UserRole, UserRole.user_name == User.name)
              .where(User.active.is_(True), UserRole.role_name.in_(FIXERS)).distinct().order_by(User.name))
    for name in session.scalars(fixers):
        readable = session.scalar(access.scoped_cases(load_actor(session, name)).where(
            Case.id == incident.case_id)) is not None
        where = f"信访件 {number}" if readable and number else f"案件 {incident.case_id}"
        session.add(Notice(case_id=incident.case_id if readable else None, username=name, kind="incident",
                           created_at=now, text=f"{where} 在{step}处出错（异常 #{incident.id}）：{incident.message}。"
                           "办理人提交的内容已保留，请在“流程异常”中排除问题后重试、跳过，或写明处理说明后关闭。"))


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)
