"""The engine's one door: web/ and the CLI import from here (or from the `engine` face), never from the
rooms behind it. No Flask here, no SpiffWorkflow types leak out."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from engine import audit
from engine.audit import CheckpointRefused, load_audit_key
from engine.bpmn import deployments
from engine.bpmn.deployments import DeployOutcome, SpecCache, ValidationFailed, read_paths
from engine.bpmn.expressions import Budget
from engine.bpmn.forms import Form, FormErrors
from engine.bpmn.validation import Problem, validate
from engine.errors import Conflict, EngineError, Forbidden, IncidentRaised, NotFound, local_minutes
from engine.jsonutil import jsonable
from engine.org import administration
from engine.org.accounts import MIN_PASSWORD_LENGTH, PasswordRejected
from engine.org.administration import (
    CODE_PATTERN,
    CODE_RULE,
    DEPARTMENT_KINDS,
    USER_NAME_PATTERN,
    USER_NAME_RULE,
    AdminRefused,
    UserDetails,
)
from engine.org.organisation import Actor, UnknownUser, display_names, known_roles, load_actor, load_organisation
from engine.org.saved_filters import PARAMETERS as FILTER_PARAMETERS
from engine.org.saved_filters import FilterRefused
from engine.org.sessions import ABSOLUTE_TIMEOUT
from engine.reads import incident_list, queues
from engine.reads.attachments import ATTACHMENT_TYPES, MAX_ATTACHMENT_BYTES, AttachmentRejected, check_attachment
from engine.reads.comments import MAX_LENGTH as COMMENT_MAX_LENGTH
from engine.reads.comments import CommentRejected
from engine.reads.done import SORTS as DONE_SORTS
from engine.reads.done import DoneQuery
from engine.reads.incident_list import STATES as INCIDENT_STATES
from engine.reads.queues import SORTS as QUEUE_SORTS
from engine.reads.queues import QueueQuery
from engine.reads.search import SearchQuery, may_search_reporters
from engine.reads.staff import StaffViews
from engine.runtime import correlation, workitems
from engine.runtime.assignment import ReasonMissing
from engine.runtime.commands import CommandRunner
from engine.runtime.handlers_registry import HandlerRegistry, load_handler_modules, registry
from engine.runtime.incidents import FIXERS as INCIDENT_FIXERS
from engine.runtime.incidents import NoteMissing
from engine.runtime.recusal import KINDS as RECUSAL_KINDS
from engine.runtime.recusal import RecusalInvalid
from engine.runtime.scheduler import TimerScheduler
from engine.secrets import vault
from engine.secrets.keys import Keyring, default_key_file, load_keyring
from engine.store import schema
from engine.store.backup import BackupFailed, backup, restore
from engine.store.db import Database, instance_folder
from engine.store.models import CalendarDay, Case, Deployment, Event, Incident, Timer, User, WorkItem
from engine.timing.calendar import SHANGHAI, DayOverride, WorkingCalendar, expression_helpers, parse_schedule
from engine.timing.clock import Clock, FakeClock, SystemClock

# What web/ and cli/ may use besides Engine: errors, the actor, form and query types, the limits their forms
# repeat, the administrators' operations, and the set-up steps of the command line.
__all__ = [
    "ABSOLUTE_TIMEOUT", "ATTACHMENT_TYPES", "CODE_PATTERN", "CODE_RULE", "COMMENT_MAX_LENGTH", "DEPARTMENT_KINDS",
    "DONE_SORTS", "FILTER_PARAMETERS", "INCIDENT_FIXERS", "INCIDENT_STATES", "MAX_ATTACHMENT_BYTES",
    "MIN_PASSWORD_LENGTH", "QUEUE_SORTS", "RECUSAL_KINDS", "SHANGHAI", "USER_NAME_PATTERN", "USER_NAME_RULE", "Actor",
    "AdminRefused", "AttachmentRejected", "BackupFailed", "Budget", "CheckpointRefused", "CommentRejected",
    "Conflict", "Database", "DoneQuery", "Engine", "EngineError", "FakeClock", "FilterRefused", "Forbidden", "Form",
    "FormErrors", "IncidentRaised", "NotFound", "NoteMissing", "PasswordRejected", "QueueQuery", "ReasonMissing",
    "RecusalInvalid", "SearchQuery", "SystemClock", "UnknownUser", "UserDetails", "ValidationFailed",
    "administration", "backup", "check_attachment", "instance_folder", "load_audit_key", "load_organisation",
    "local_minutes", "may_search_reporters", "parse_schedule", "read_paths", "restore", "schema",
]


class Engine:
    """One per process. Thread-safe: every call opens its own transaction."""

    def __init__(self, database: Database | str | None = None, clock: Clock | None = None,
                 handlers: HandlerRegistry | None = None, handler_modules: str = "handlers",
                 keyring: Keyring | None = None, budget: Budget | None = None,
                 audit_key: bytes | None = None) -> None:
        """`budget`: time and value-size limits of each command's diagram scripts and expressions.
        `audit_key`: the audit chain's HMAC key (`load_audit_key`); without it new events are plain sha256."""
        self.db = database if isinstance(database, Database) else Database(database)
        if audit_key is not None:
            self.db.audit_key = audit_key
        self.keyring = keyring or load_keyring(default_key_file(self.db.url))
        self.clock = clock or SystemClock()
        if handlers is None:
            load_handler_modules(handler_modules)
            handlers = registry
        self.handlers = handlers
        self.specs = SpecCache()
        self._calendar: tuple[float, WorkingCalendar] | None = None
        self._calendar_lock = threading.Lock()
        self._roles: tuple[float, dict[str, str]] | None = None
        self._roles_lock = threading.Lock()
        self.commands = CommandRunner(self.db, self.clock, self.specs, self.handlers, self.calendar, self.roles,
                                      self.keyring, budget)
        self.commands.on_signal = self.signal
        self.serializer = self.commands.serializer
        self.staff = StaffViews(self)

    # ---- organisation and calendar -------------------------------------------------------------

    def roles(self, max_age: float = 60.0) -> dict[str, str]:
        """Known roles (catalogue + organisation table), re-read at most once a minute: every command
        needs them to route work items."""
        with self._roles_lock:
            if self._roles is None or time.monotonic() - self._roles[0] > max_age:
                with self.db.read() as session:
                    self._roles = (time.monotonic(), known_roles(session))
            return self._roles[1]

    def forget_roles(self) -> None:
        """After an administrator changed the role catalogue, so the next command routes with it."""
        with self._roles_lock:
            self._roles = None

    def actor(self, user_name: str) -> Actor:
        with self.db.read() as session:
            return load_actor(session, user_name)

    def calendar(self, max_age: float = 60.0) -> WorkingCalendar:
        """The working-day calendar, re-read from the override table at most once a minute."""
        with self._calendar_lock:
            if self._calendar is None or time.monotonic() - self._calendar[0] > max_age:
                with self.db.read() as session:
                    overrides = [DayOverride(row.day, row.workday, row.note)
                                 for row in session.scalars(sa.select(CalendarDay))]
                self._calendar = (time.monotonic(), WorkingCalendar(overrides))
            return self._calendar[1]

    def forget_calendar(self) -> None:
        with self._calendar_lock:
            self._calendar = None

    # ---- deployments ---------------------------------------------------------------------------

    def _expression_names(self) -> set[str]:
        # `limits` (the process's properties) is bound per task by the script engine, like the helpers.
        return set(expression_helpers(WorkingCalendar(), self.clock.now)) | {"limits"}

    def _user_names(self) -> set[str]:
        with self.db.read() as session:
            return set(session.scalars(sa.select(User.name).where(User.active.is_(True))))

    def validate(self, files: Mapping[str, bytes | str]) -> list[Problem]:
        helpers = self._expression_names()
        return validate(files, self.roles(max_age=0), self.handlers.names(), helpers, self._user_names())[1]

    def deploy(self, files: Mapping[str, bytes | str], by: str, force: bool = False) -> list[DeployOutcome]:
        """`force`: also when a process id was deployed before from a file of another name."""
        helpers = self._expression_names()
        parsed, problems = validate(files, self.roles(max_age=0), self.handlers.names(), helpers, self._user_names())
        if problems:
            raise ValidationFailed(problems)
        with self.db.write() as session:
            outcomes = deployments.store(session, parsed, by, self.clock.now(), force)
        # After the deployment committed, in transactions of their own (each idempotent, so deploying the
        # same content again repairs a schedule that a crash in between left out).
        for process_id in sorted(deployments.timer_started(parsed) & {o.process_id for o in outcomes}):
            self.commands.schedule(process_id)
        return outcomes

    def deployments(self) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = list(session.scalars(sa.select(Deployment).order_by(Deployment.process_id, Deployment.version)))
            people = display_names(session, {d.deployed_by for d in rows})
            return [{"id": d.id, "process_id": d.process_id, "name": d.name, "version": d.version,
                     "hash": d.content_hash, "files": sorted(d.files), "deployed_by": d.deployed_by,
                     "deployed_by_name": people.get(d.deployed_by, d.deployed_by),
                     "deployed_at": d.deployed_at.isoformat()} for d in rows]

    # ---- commands ------------------------------------------------------------------------------

    def start_case(self, process_id: str, data: dict[str, Any] | None, actor: Actor,
                   business_key: str | None = None) -> int:
        return self.commands.start(process_id, data or {}, actor, business_key)

    def complete(self, task_id: str, actor: Actor, data: dict[str, Any] | None = None) -> None:
        self.commands.complete(task_id, actor, data or {})

    def correlate(self, message: str, keys: Mapping[str, Any] | None, data: Mapping[str, Any] | None,
                  actor: Actor) -> int:
        """Deliver a message (Camunda's correlation: message name + `businessKey` and variables in `keys`)
        to the one case waiting for it, or start the one process it starts; returns the case id."""
        return correlation.correlate(self.db, self.specs, self.commands, message, keys or {}, data or {}, actor)

    def signal(self, name: str, data: Mapping[str, Any] | None, actor: Actor) -> list[int]:
        """Broadcast a signal to every waiting case and every process it starts; returns the case ids."""
        return correlation.broadcast(self.db, self.specs, self.commands, name, data or {}, actor)

    def claim(self, task_id: str, actor: Actor) -> None:
        self.commands.claim(task_id, actor)

    def unclaim(self, task_id: str, actor: Actor) -> None:
        self.commands.unclaim(task_id, actor)

    def reassign(self, task_id: str, actor: Actor, to: Actor, reason: str) -> None:
        """Delegate or reassign the task to `to`; `reason` is required (ReasonMissing), audited and sent
        to the new assignee in a notice."""
        self.commands.reassign(task_id, actor, to, reason)

    def move_deadline(self, case_id: int, timer_bpmn_id: str, due: datetime, actor: Actor, reason: str) -> None:
        self.commands.move_deadline(case_id, timer_bpmn_id, due, actor, reason)

    def scheduler(self, owner: str | None = None, lease_seconds: float = 60.0, batch: int = 200,
                  per_transaction: int = 20) -> TimerScheduler:
        """`per_transaction`: SQLite firings sharing one write transaction (see TimerScheduler)."""
        return TimerScheduler(self.db, self.commands, owner, lease_seconds, batch, per_transaction)

    def import_calendar(self, days: list[DayOverride]) -> int:
        """Store holidays and make-up working days (replacing entries for the same dates)."""
        with self.db.write() as session:
            for day in days:
                session.merge(CalendarDay(day=day.day, workday=day.workday, note=day.note))
        self.forget_calendar()
        return len(days)

    def calendar_warning(self) -> str | None:
        return self.calendar().missing_year_warning(self.clock.now().astimezone(SHANGHAI).date())

    def retry(self, incident_id: int, actor: Actor) -> str:
        """Re-run an incident's failed command: "retry", or "stale" when it no longer applied (closed)."""
        return self.commands.retry(incident_id, actor)

    def skip(self, incident_id: int, actor: Actor) -> str:
        """Re-run it completing the failed task without running it: "skip", or "stale" as for retry."""
        return self.commands.skip(incident_id, actor)

    def resolve_incident(self, incident_id: int, actor: Actor, note: str) -> None:
        """Close an incident by hand with a note (process owners and administrators; NoteMissing without)."""
        self.commands.resolve(incident_id, actor, note)

    def incidents(self, state: str = "open") -> list[dict[str, Any]]:
        """Every incident, open or closed (`state`), newest first, as the incident list shows them."""
        with self.db.read() as session:
            return incident_list.incidents(session, state)

    # ---- reading -------------------------------------------------------------------------------

    def work_items(self, case_id: int) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id))
            return [workitems.as_dict(row) for row in rows]

    def find_task(self, case_id: int, bpmn_id: str) -> str:
        """The open task of a case for a BPMN element id (as the CLI addresses tasks)."""
        matches = [item for item in self.work_items(case_id) if item["bpmn_id"] == bpmn_id]
        if not matches:
            with self.db.read() as session:
                done = audit.completed_by(session, Event.case_id == case_id, Event.bpmn_id == bpmn_id)
            if done is not None:
                raise Conflict(done)
        if len(matches) != 1:
            raise NotFound(f"案件 {case_id} 没有唯一的待办任务“{bpmn_id}”（找到 {len(matches)} 个）")
        return matches[0]["task_id"]

    def queue(self, actor: Actor, query: queues.QueueQuery) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return [workitems.as_dict(row) for row in queues.queue(session, actor, query, self.clock.now())]

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside share one transaction: what a page shows is one consistent state."""
        return self.db.snapshot()

    def queue_counts(self, actor: Actor, within_days: int = 3) -> dict[str, int]:
        with self.db.read() as session:
            return queues.counts(session, actor, self.clock.now(), within_days)

    def case(self, case_id: int) -> dict[str, Any]:
        with self.db.read() as session:
            case = session.get(Case, case_id)
            if case is None:
                raise NotFound(f"案件不存在：{case_id}")
            deployment = session.get(Deployment, case.deployment_id)
            items = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case_id).order_by(WorkItem.id))
            waiting = session.scalars(sa.select(Timer).where(Timer.case_id == case_id).order_by(Timer.due_at))
            incidents = session.scalars(sa.select(Incident).where(Incident.case_id == case_id).order_by(Incident.id))
            return {
                "id": case.id, "process_id": case.process_id, "status": case.status, "version": case.version,
                "deployment": {"id": deployment.id, "version": deployment.version, "hash": deployment.content_hash},
                "created_by": case.created_by, "created_at": case.created_at.isoformat(),
                "updated_at": case.updated_at.isoformat(),
                "completed_at": case.completed_at.isoformat() if case.completed_at else None,
                "data": case.data,
                "work_items": [workitems.as_dict(row) for row in items],
                "timers": [{"bpmn_id": t.bpmn_id, "name": t.name, "kind": t.kind, "due_at": t.due_at.isoformat()}
                           for t in waiting],
                "incidents": [_incident(row) for row in incidents],
                "events": self._events(session, case_id),
            }

    def history(self, case_id: int) -> list[dict[str, Any]]:
        with self.db.read() as session:
            return self._events(session, case_id)

    @staticmethod
    def _events(session, case_id: int) -> list[dict[str, Any]]:
        rows = session.scalars(sa.select(Event).where(Event.case_id == case_id).order_by(Event.case_seq))
        return [{"seq": e.case_seq, "at": e.at.isoformat(), "actor": e.actor, "kind": e.kind,
                 "process_id": e.process_id, "bpmn_id": e.bpmn_id, "ordinal": e.ordinal,
                 "payload": json.loads(e.payload)} for e in rows]

    # ---- reporter vault ------------------------------------------------------------------------

    def rotate_keys(self, by: str) -> vault.Rotation:
        """New data key; every reporter record and attachment re-encrypted under it (audited)."""
        return vault.rotate(self.db, self.keyring, self.clock.now(), by)

    def purge_reporters(self, before: date, by: str) -> list[int]:
        """Destroy the reporter records of archived items whose retention date is before `before` (at the
        latest today); returns the cases."""
        if before > self.clock.now().astimezone(SHANGHAI).date():
            raise Forbidden("只能销毁保管期限已满的反映人信息：截止日期不能晚于今天")
        with self.db.write() as session:
            return vault.purge(session, before, self.clock.now(), by)

    def verify_audit(self, checkpoint: str | None = None) -> audit.VerifyReport:
        """Check the chain, and with `checkpoint` (a checkpoint file's text) that it still holds that history."""
        with self.db.read() as session:
            return audit.verify_with_checkpoint(session, self.db.audit_key, checkpoint)

    def audit_checkpoint(self) -> dict[str, Any]:
        """A signed checkpoint of the chain (head event, hash, count, time), to keep outside the database."""
        if self.db.audit_key is None:
            raise audit.CheckpointRefused("生成检查点需要审计密钥（XINFANG_AUDIT_KEY 或实例目录中的 audit.key）")
        with self.db.read() as session:
            return audit.take_checkpoint(session, self.db.audit_key, self.clock.now())

    def now(self) -> datetime:
        return self.clock.now()


def _incident(row: Incident) -> dict[str, Any]:
    return jsonable({
        "id": row.id, "bpmn_id": row.bpmn_id, "task_name": row.task_name, "error_type": row.error_type,
        "message": row.message, "line": row.line, "source_line": row.source_line, "attempts": row.attempts,
        "created_at": row.created_at, "resolved_at": row.resolved_at, "resolution": row.resolution,
        "resolved_by": row.resolved_by, "note": row.note,
    })
