"""Commands on cases. Each is one transaction: load the case, run the engine, then write state, work
items, timers and the audit event together, guarded by the case's version column. A script or handler
failure rolls all of it back and records an incident instead; retry and skip re-run the failed command.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import audit
from engine.audit.chain import TaskAddress
from engine.bpmn.deployments import SpecCache, confidential_fields, field_labels
from engine.bpmn.expressions import Budget, RestrictedEnvironment
from engine.bpmn.forms import Circumstances, validate_submission
from engine.errors import Conflict, Forbidden, NotFound
from engine.jsonutil import data_delta, jsonable
from engine.org.organisation import Actor, display_name
from engine.runtime import (
    arrivals,
    assignment,
    history,
    incidents,
    multiinstance,
    recusal,
    stale_incidents,
    submission_checks,
    subscriptions,
    timer_starts,
    timers,
    workitems,
)
from engine.runtime.casestate import address, case_data, find_task, install_task_lookup, is_finished, waiting_timers
from engine.runtime.compaction import compact
from engine.runtime.events import Trigger, catch, start_event_subprocess
from engine.runtime.handlers_registry import HandlerContext, HandlerRegistry
from engine.runtime.incidents import Failure, Resolution, actor_record, failures_as_incidents, incident_owner
from engine.runtime.scripting import CaseScriptEngine
from engine.runtime.serialization import FORMAT_VERSION, CaseSerializer
from engine.runtime.stepping import run_engine
from engine.secrets import handover, vault
from engine.secrets.keys import Keyring
from engine.store.db import Database
from engine.store.models import Case, CompletedTask, Deployment, Event, Timer, WorkItem
from engine.timing.calendar import WorkingCalendar, expression_helpers
from engine.timing.clock import Clock, clock_scope

SCHEDULER = Actor("scheduler", "定时器", None, frozenset())

# The statements every command runs, built once: SQLAlchemy caches a statement's compiled form on the
# statement object, so reusing them skips building, keying and compiling them per command. Through the
# ORM these were most of a timer firing's cost (docs/performance.md).
_CASES, _TIMERS = Case.__table__, Timer.__table__
_CASE_KEY = _CASES.c.id == sa.bindparam("case_key")
_LOCK_CASE = sa.select(_CASES.c.id, _CASES.c.deployment_id, _CASES.c.version).where(_CASE_KEY).with_for_update()
_LOCK_CASE_WITH_STATE = (sa.select(_CASES.c.id, _CASES.c.deployment_id, _CASES.c.version, _CASES.c.state)
                         .where(_CASE_KEY).with_for_update())
_CASE_STATE = sa.select(_CASES.c.state).where(_CASE_KEY)
_SAVE_CASE = sa.update(_CASES).where(_CASE_KEY, _CASES.c.version == sa.bindparam("expected_version"))
_TIMER_KEY = _TIMERS.c.id == sa.bindparam("timer_key")
_LEASED_TIMER = (sa.select(_TIMERS.c.due_at).where(_TIMER_KEY, _TIMERS.c.lease_owner == sa.bindparam("owner"))
                 .with_for_update())
_FREE_TIMER = sa.update(_TIMERS).where(_TIMER_KEY).values(lease_owner=None, lease_until=None, attempts=0,
                                                          last_error=None)


@dataclass
class _CaseRef:
    """What a command needs of its case row; `state` is read only when no workflow is kept in memory."""

    id: int
    deployment_id: int
    version: int
    state: str | None = None


@dataclass
class _Scope:
    session: Session
    case: _CaseRef
    workflow: BpmnWorkflow
    actor: Actor
    now: datetime
    script_engine: CaseScriptEngine
    thrown: list = field(default_factory=list)  # signals no task of this case caught: for the other cases
    completed_at_load: frozenset[history.Element] = frozenset()  # what the event's "ran" is counted from


@dataclass(frozen=True)
class _Outcome:
    kind: str
    payload: dict
    task: TaskAddress = TaskAddress()
    task_id: str | None = None


class CommandRunner:
    """`budget` bounds the time and value sizes of each command's scripts and expressions: a command over
    it rolls back (releasing the write lock) and becomes an incident."""

    def __init__(self, db: Database, clock: Clock, specs: SpecCache, handlers: HandlerRegistry,
                 calendar: Callable[[], WorkingCalendar], roles: Callable[[], dict[str, str]],
                 keyring: Keyring, budget: Budget | None = None) -> None:
        self.db, self.clock, self.specs, self.handlers, self.keyring = db, clock, specs, handlers, keyring
        self.calendar, self.roles = calendar, roles
        self.budget = budget or Budget()
        self.serializer = CaseSerializer()
        timers.install_gate()  # timers fire only through their own command
        multiinstance.install_counters()
        install_task_lookup()
        # Workflows as left by the last successful command, keyed by case; taken out while in use so a
        # half-run workflow is never reused, and checked against the stored version before use.
        self._live: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._live_lock = threading.Lock()
        self._live_size = 256
        # Set by the engine: broadcasts a signal a case threw to the other cases (engine/runtime/correlation.py)
        self.on_signal: Callable[[str, dict, Actor], object] | None = None

    # ---- the commands -------------------------------------------------------------------------

    def start(self, process_id: str, data: dict[str, Any], actor: Actor, business_key: str | None = None,
              trigger: Trigger | None = None) -> int:
        """`trigger`: the message or signal a start event of the process catches (else its none start)."""
        with clock_scope(self.clock):
            try:
                with self.db.write() as session:
                    case, workflow, payload = self._new_case(session, process_id, data, actor, business_key)
                    scope = self._scope(session, case, workflow, actor)
                    if trigger is not None:
                        with failures_as_incidents():
                            run_engine(workflow)
                            catch(workflow, trigger, lambda spec: spec.bpmn_id == trigger.bpmn_id)
                        payload = {**payload, **trigger.audit()}
                    self._finish(scope, {}, _Outcome("start", payload), run=True)
                self._keep(case.id, case.version, workflow)
                self._broadcast(scope, actor)
                return case.id
            except Failure as failure:
                with self.db.write() as session:
                    case, workflow, payload = self._new_case(session, process_id, data, actor, business_key)
                    self._finish(self._scope(session, case, workflow, actor), {}, _Outcome("start", payload),
                                 run=False)
                self._raise_incident(case.id, actor, failure, {"command": "run", "actor": actor_record(actor)})

    def complete(self, task_id: str, actor: Actor, data: dict[str, Any], resolution: Resolution | None = None) -> int:
        def act(scope: _Scope, item: WorkItem) -> _Outcome:
            task = self._task(scope.workflow, task_id)
            form = task.task_spec.xinfang_form
            # date bounds compare with the command's clock and the case's dates (e.g. received_on)
            known = Circumstances.at(scope.now, task.data,
                                     field_labels(self.specs.for_id(scope.session, scope.case.deployment_id)))
            valid = validate_submission(form, data, known)
            submission_checks.check(form, valid, task.data, task.task_spec.routing.properties,
                                    self._checker(scope))
            cleaned, sealed = vault.seal(scope.session, self.keyring, scope.case.id, valid,
                                         [field.id for field in form.fields if field.confidential], scope.now)
            where = address(task)
            task.data.update(cleaned)
            task.run()
            scope.session.add(CompletedTask(
                case_id=item.case_id, task_id=item.task_id, process_id=item.process_id, bpmn_id=item.bpmn_id,
                name=item.name, completed_by=scope.actor.name, completed_at=scope.now, arrived_at=item.created_at,
                due_at=item.due_at))
            return _Outcome("complete", _submission(cleaned, sealed, task=item.name), where, task_id)

        return self._on_work_item(task_id, actor, act, {"command": "complete", "task_id": task_id, "data": data,
                                                        "actor": actor_record(actor)}, resolution)

    def run(self, case_id: int, actor: Actor, resolution: Resolution | None = None) -> int:
        """Advance the engine without external input: what retry/skip use after a failed start."""
        return self._execute(case_id, actor, lambda scope: _Outcome("run", {}),
                             {"command": "run", "actor": actor_record(actor)}, resolution)

    def deliver(self, case_id: int, trigger: Trigger, actor: Actor, resolution: Resolution | None = None) -> int:
        """Hand a message to the one task it was correlated to, or a signal to every task of the case
        waiting for it. The case's version guards it: a second delivery of the same message finds the
        task no longer waiting and is refused."""
        def act(scope: _Scope) -> _Outcome:
            if trigger.task_id == str(scope.workflow.task_tree.id):
                caught = start_event_subprocess(scope.workflow, trigger)
            elif trigger.task_id is None:
                caught = catch(scope.workflow, trigger, lambda spec: True)
                caught += start_event_subprocess(scope.workflow, trigger)
            else:
                task = find_task(scope.workflow, trigger.task_id)  # None: caught and compacted away
                if task is None or task.state != TaskState.WAITING:
                    raise Conflict(f"案件 {case_id} 已不在等待{trigger.label}")
                caught = catch(scope.workflow, trigger, lambda spec: spec is task.task_spec, [task])
            if not caught:
                raise Conflict(f"案件 {case_id} 已不在等待{trigger.label}")
            return _Outcome(f"{trigger.kind}_received", trigger.audit(), address(caught[0]), str(caught[0].id))

        return self._execute(case_id, actor, act, {"command": "deliver", **trigger.audit(),
                                                   "task_id": trigger.task_id, "actor": actor_record(actor)},
                             resolution)

    def claim(self, task_id: str, actor: Actor) -> None:
        with clock_scope(self.clock), self.db.write() as session:
            item = self._work_item(session, task_id)
            self._recuse(session, item, actor)
            assignment.claim(session, item, actor, self.clock.now())

    def unclaim(self, task_id: str, actor: Actor) -> None:
        with clock_scope(self.clock), self.db.write() as session:
            assignment.release(session, self._work_item(session, task_id), actor, self.clock.now())

    def reassign(self, task_id: str, actor: Actor, to: Actor, reason: str) -> None:
        with clock_scope(self.clock), self.db.write() as session:
            item = self._work_item(session, task_id)
            refusal = recusal.conflict_for_other(session, self.keyring, item.case_id, to, item)
            if refusal:
                raise Forbidden(refusal)
            assignment.reassign(session, item, actor, to, reason, self.clock.now())

    def fire_timer(self, timer_id: int, owner: str, resolution: Resolution | None = None,
                   leased: tuple[int, str] | None = None) -> int:
        """Fire one due timer leased by `owner`, in the case's own transaction: the timer row is deleted
        (or, for a cycle, moved on) together with the new state, so a timer fires exactly once.
        `leased` = (case id, task id) as the claim returned them, saving a lookup."""
        if leased is None:
            with self.db.read() as session:
                leased = session.execute(sa.select(Timer.case_id, Timer.task_id).where(
                    Timer.id == timer_id, Timer.lease_owner == owner)).first()
        if leased is None:
            raise Conflict("定时器已由其他进程处理")
        case_id, task_id = leased

        def act(scope: _Scope) -> _Outcome:
            connection = scope.session.connection()
            leased = connection.execute(_LEASED_TIMER, {"timer_key": timer_id, "owner": owner}).first()
            if leased is None:  # our lease expired and another process took the timer over
                raise Conflict("定时器已由其他进程处理")
            task = find_task(scope.workflow, task_id)
            if task is None or task.state != TaskState.WAITING:
                raise Conflict("定时器对应的事件已不在等待状态")
            where = address(task)
            timers.fire(task)  # this timer only: every other one fires in its own command
            if task.state == TaskState.WAITING and timers.due_time(task) == leased.due_at:
                raise Conflict(f"定时器尚未到期：{leased.due_at.isoformat()}")
            if timer_starts.is_timer_start(task):  # the scheduled case starts; the next one waits
                following = timer_starts.hand_on(task)
                if following is not None:
                    self._scheduled_case(scope.session, task.workflow.spec.name, where.bpmn_id, following)
            elif task.state == TaskState.WAITING:
                # A cycle's row lives on for its next repetition: free, not held by this lease or past
                # failures. Any other fired timer's row is deleted by the timer sync.
                connection.execute(_FREE_TIMER, {"timer_key": timer_id})
            return _Outcome("timer_fired", {"timer": task.task_spec.bpmn_name or where.bpmn_id,
                                            "due_at": leased.due_at.isoformat()}, where, task_id)

        return self._execute(case_id, SCHEDULER, act, {"command": "fire_timer", "timer_id": timer_id,
                                                       "actor": actor_record(SCHEDULER)}, resolution)

    def move_deadline(self, case_id: int, timer_bpmn_id: str, due: datetime, actor: Actor, reason: str) -> int:
        """Move a waiting timer (e.g. after an approved extension), and the due date of the task it is
        attached to; audited with the reason."""
        if due.tzinfo is None:
            raise ValueError("新的期限必须带时区")

        def act(scope: _Scope) -> _Outcome:
            waiting = [t for t in waiting_timers(scope.workflow) if t.task_spec.bpmn_id == timer_bpmn_id]
            if not waiting:
                raise NotFound(f"案件 {case_id} 没有等待中的定时器“{timer_bpmn_id}”")
            task = waiting[0]
            previous = timers.due_time(task)
            timers.set_due_time(task, due)
            attached = [str(t.id) for t in task.parent.children if t.task_spec.manual] if task.parent else []
            if attached:
                scope.session.execute(sa.update(WorkItem).where(WorkItem.task_id.in_(attached)).values(due_at=due))
                workitems.copy_due(scope.session, sa.select(WorkItem.id).where(WorkItem.task_id.in_(attached)), due)
            payload = {"timer": timer_bpmn_id, "from": previous.isoformat() if previous else None,
                       "to": due.isoformat(), "reason": reason}
            return _Outcome("deadline_moved", payload, address(task), str(task.id))

        return self._execute(case_id, actor, act, {"command": "move_deadline"})

    def schedule(self, process_id: str) -> list[int]:
        """Give the newest deployment of a process with timer start events its scheduled cases (one per
        start event still missing one) and retire the older versions' ones; returns the new cases."""
        with clock_scope(self.clock), self.db.write() as session:
            deployment = session.scalars(
                sa.select(Deployment).where(Deployment.process_id == process_id)
                .order_by(Deployment.version.desc()).limit(1).with_for_update()).first()
            if deployment is None:
                raise NotFound(f"流程未部署：{process_id}")
            now = self.clock.now()
            timer_starts.supersede(session, process_id, deployment.id, now)
            waiting = timer_starts.scheduled_starts(session, deployment.id)
            environment = RestrictedEnvironment(expression_helpers(self.calendar(), self.clock.now), self.budget)
            created = []
            for start in timer_starts.timer_start_events(self.specs.get(deployment).spec):
                if start.bpmn_id in waiting:
                    continue
                try:
                    with failures_as_incidents():
                        due, value = timer_starts.first_occurrence(
                            start, lambda text: environment.evaluate(text, {}), now)
                    if due:
                        created.append(self._scheduled_case(session, process_id, start.bpmn_id, value))
                except Failure as failure:  # no case to hold an incident: the deployer is told
                    raise timer_starts.ScheduleFailed(process_id, start.bpmn_id, failure.message) from failure
            return created

    def _scheduled_case(self, session: Session, process_id: str, bpmn_id: str, value: dict | None) -> int:
        """A case waiting at its timer start event for `value` (or the occurrence the engine computes)."""
        case, workflow, payload = self._new_case(session, process_id, {}, SCHEDULER, scheduled=True)
        timer_starts.seed(workflow, bpmn_id, value)
        self._finish(self._scope(session, case, workflow, SCHEDULER), {},
                     _Outcome("scheduled", {"start_event": bpmn_id}), run=True, status=timer_starts.SCHEDULED)
        return case.id

    def retry(self, incident_id: int, actor: Actor) -> str:
        """Re-run the failed command; returns "retry", or "stale" if it no longer applied and was closed."""
        return self._resolve(incident_id, actor, skip=False)

    def skip(self, incident_id: int, actor: Actor) -> str:
        """Re-run it completing the failed task unexecuted; returns "skip", or "stale" as for retry."""
        return self._resolve(incident_id, actor, skip=True)

    def resolve(self, incident_id: int, actor: Actor, note: str) -> None:
        """Close the incident by hand with a note (process owners and administrators)."""
        with self.db.write() as session:
            incidents.resolve(session, self.clock.now(), incident_id, actor, note)

    # ---- scaffolding --------------------------------------------------------------------------

    def _on_work_item(self, task_id: str, actor: Actor, act, command: dict, resolution: Resolution | None) -> int:
        with self.db.read() as session:
            case_id = self._work_item(session, task_id).case_id

        def guarded(scope: _Scope) -> _Outcome:
            item = self._work_item(scope.session, task_id)
            if not workitems.may_work_on(actor, item):
                who = (f"已由 {display_name(scope.session, item.assignee)} 领取" if item.assignee
                       else "您不是该任务的候选人")
                raise Forbidden(f"不能办理该任务：{who}")
            self._recuse(scope.session, item, actor)
            return act(scope, item)

        return self._execute(case_id, actor, guarded, command, resolution)

    def _recuse(self, session: Session, item: WorkItem, actor: Actor) -> None:
        """A task offered to someone's role is still not theirs to take up if they must recuse (回避)."""
        reason = recusal.conflict(session, self.keyring, item.case_id, actor, item)
        if reason:
            raise Forbidden(reason)

    def _execute(self, case_id: int, actor: Actor, act: Callable[[_Scope], _Outcome], command: dict,
                 resolution: Resolution | None = None) -> int:
        skip = resolution.skip if resolution else ()
        with clock_scope(self.clock):
            try:
                with self.db.write() as session:
                    # Lock the case row first (PostgreSQL; SQLite writes are serialised by BEGIN IMMEDIATE):
                    # a concurrent command on the same case waits here, then sees the other's result,
                    # instead of running on the same state and colliding on the work-item rows.
                    case = self._load_case(session, case_id)
                    if case is None:
                        raise NotFound(f"案件不存在：{case_id}")
                    with failures_as_incidents():
                        scope = self._scope(session, case, self._workflow(session, case), actor)
                        before = case_data(scope.workflow)
                        outcome = act(scope)
                    self._finish(scope, before, outcome, run=True, skip=skip)
                    if resolution is not None:
                        incidents.close(session, scope.now, case.deployment_id, resolution)
                    stale_incidents.sweep(session, case.id, case.deployment_id, scope.now, actor.name)
                self._keep(case.id, case.version, scope.workflow)
                self._broadcast(scope, actor)
                return case_id
            except Failure as failure:
                self._raise_incident(case_id, resolution.resolver if resolution else actor, failure,
                                     {**command, "skip": list(skip)}, resolution.incident_id if resolution else None)

    def _scope(self, session: Session, case: _CaseRef, workflow: BpmnWorkflow, actor: Actor) -> _Scope:
        now = self.clock.now()
        calendar = self.calendar()
        helpers = expression_helpers(calendar, self.clock.now)

        def hand_over(purpose: str, value: str) -> None:
            handover.leave(session, self.keyring, case.id, actor.name, purpose, value, now)

        def handler_context(task: Task) -> HandlerContext:
            properties = getattr(task.task_spec, "properties", {})
            return HandlerContext(case.id, dict(task.data), now, actor.name, session, properties, hand_over)

        script_engine = CaseScriptEngine(helpers, self.handlers, handler_context, self.budget)
        workflow.script_engine = script_engine
        return _Scope(session, case, workflow, actor, now, script_engine,
                      completed_at_load=history.completed_elements(workflow))

    def _checker(self, scope: _Scope) -> submission_checks.Checker:
        """Runs a field's `check_with` handler on the command's transaction; a check handler returns
        `{"error": message}` to refuse the value."""
        def run_check(name: str, properties: dict, data: dict) -> str | None:
            handler = self.handlers.get(name)
            if handler is None:  # refused at deploy; a handler module not loaded in this process
                raise Failure(ValueError(f"未注册的处理函数：{name}"))
            try:
                result = handler(HandlerContext(scope.case.id, data, scope.now, scope.actor.name, scope.session,
                                                properties)) or {}
            except Exception as exc:  # the check itself broke: an incident, as any handler error
                raise Failure(exc) from exc
            return result.get("error") or None
        return run_check

    def _new_case(self, session: Session, process_id: str, data: dict, actor: Actor,
                  business_key: str | None = None, scheduled: bool = False) -> tuple[_CaseRef, BpmnWorkflow, dict]:
        """The new case row and workflow, and the start event's payload; reporter fields given at the
        start are sealed before the workflow or the row sees them. A process that starts with a timer is
        started only by its schedule (`scheduled`)."""
        deployment = session.scalars(
            sa.select(Deployment).where(Deployment.process_id == process_id)
            .order_by(Deployment.version.desc()).limit(1)
        ).first()
        if deployment is None:
            raise NotFound(f"流程未部署：{process_id}")
        loaded = self.specs.get(deployment)
        if not scheduled and timer_starts.timer_start_events(loaded.spec):
            raise Forbidden(f"流程 {process_id} 由定时启动事件按时创建案件，不能手动发起")
        workflow = BpmnWorkflow(loaded.spec, loaded.subprocess_specs)
        now = self.clock.now()
        case = Case(process_id=process_id, deployment_id=deployment.id, status="running", state="",
                    format_version=FORMAT_VERSION, data={}, version=0, created_by=actor.name,
                    created_at=now, updated_at=now, business_key=business_key)
        session.add(case)
        session.flush()  # the vault binds sealed values to the case id
        # As Camunda: the variable a start event's camunda:initiator names holds who started the case
        # (nobody for a case its schedule starts), so e.g. camunda:assignee="${initiator}" routes to them.
        data = {**data, **{event.initiator: None if scheduled else actor.name
                           for event in loaded.spec.bpmn_start_events if getattr(event, "initiator", None)}}
        data, sealed = vault.seal(session, self.keyring, case.id, data, confidential_fields(loaded), now)
        workflow.task_tree.data.update(data)
        case.data = jsonable(data)
        session.flush()
        return _CaseRef(case.id, case.deployment_id, case.version), workflow, _submission(data, sealed)

    def _load_case(self, session: Session, case_id: int) -> _CaseRef | None:
        """The case row, locked; its (large) state only when no workflow for it is kept in memory."""
        with self._live_lock:
            kept = case_id in self._live
        statement = _LOCK_CASE if kept else _LOCK_CASE_WITH_STATE
        row = session.connection().execute(statement, {"case_key": case_id}).first()
        return _CaseRef(*row) if row is not None else None

    def _workflow(self, session: Session, case: _CaseRef) -> BpmnWorkflow:
        with self._live_lock:
            kept = self._live.pop(case.id, None)
        if kept is not None and kept[0] == case.version:
            return kept[1]
        if case.state is None:  # the workflow kept in memory is outdated: another process moved the case on
            case.state = session.connection().execute(_CASE_STATE, {"case_key": case.id}).scalar_one()
        loaded = self.specs.for_id(session, case.deployment_id)
        return self.serializer.loads(case.state, loaded.spec, loaded.subprocess_specs)

    def _keep(self, case_id: int, version: int, workflow: BpmnWorkflow) -> None:
        """Remember the workflow for the next command on the case, once the version it belongs to is
        committed: a kept workflow of a version that was rolled back could match a later, different one."""
        self.db.after_commit(lambda: self._remember(case_id, version, workflow))

    def _remember(self, case_id: int, version: int, workflow: BpmnWorkflow) -> None:
        with self._live_lock:
            self._live[case_id] = (version, workflow)
            while len(self._live) > self._live_size:
                self._live.popitem(last=False)

    def _finish(self, scope: _Scope, before: dict, outcome: _Outcome, run: bool, skip: tuple[str, ...] = (),
                status: str | None = None) -> None:
        """Run the engine, then write everything the command changed, or nothing (the caller turns any
        failure into an incident). `status`: the case's, when not running or completed (scheduled)."""
        workflow, case, session = scope.workflow, scope.case, scope.session
        with failures_as_incidents():  # the engine's part; writing the rows below is the database's
            if run:
                run_engine(workflow, skip)
            finished = is_finished(workflow)
            created = workitems.sync(session, case.id, workflow, scope.script_engine.evaluate_text,
                                     self.roles(), scope.now)
            timers.sync(session, case.id, workflow)
            subscriptions.sync(session, case.id, workflow)
            scope.thrown = [event for event in workflow.get_events()
                            if isinstance(event.event_definition, SignalEventDefinition)]
            after = case_data(workflow)
            ran = history.ran(scope.completed_at_load, workflow)  # before compaction forgets it
            compact(workflow)
            state = self.serializer.dumps(workflow)
        values = {
            "state": state, "data": jsonable(after), "version": case.version + 1,
            "status": status or ("completed" if finished else "running"), "updated_at": scope.now,
            "completed_at": scope.now if finished else None,
        }
        updated = session.connection().execute(
            _SAVE_CASE, {"case_key": case.id, "expected_version": case.version, **values})
        if updated.rowcount != 1:
            raise Conflict(self._conflict_message(session, outcome.task_id))
        case.version += 1
        payload = {**outcome.payload, "delta": data_delta(before, after), **({"ran": ran} if ran else {})}
        done = arrivals.Done(outcome.task.process_id, outcome.task.bpmn_id, scope.actor.name) \
            if outcome.kind == "complete" else None
        payload.update(arrivals.route(session, self.keyring, case.id, created, _rules_in(workflow), done,
                                      scope.now))
        # The audit head row stays locked from the append to the commit, serialising every writer on
        # PostgreSQL: write the pending work-item and timer rows before taking it, not after.
        session.flush()
        audit.append(session, kind=outcome.kind, actor=scope.actor.name, at=scope.now, payload=payload,
                     case_id=case.id, deployment_id=case.deployment_id, task=outcome.task, task_id=outcome.task_id)

    @staticmethod
    def _task(workflow: BpmnWorkflow, task_id: str) -> Task:
        task = find_task(workflow, task_id)
        if task is None or task.state != TaskState.READY:
            raise Conflict("该任务已不在待办状态")
        return task

    def _work_item(self, session: Session, task_id: str) -> WorkItem:
        item = session.scalars(sa.select(WorkItem).where(WorkItem.task_id == task_id)).first()
        if item is None:
            raise Conflict(self._conflict_message(session, task_id))
        return item

    @staticmethod
    def _conflict_message(session: Session, task_id: str | None) -> str:
        done = audit.completed_by(session, Event.task_id == task_id) if task_id else None
        if done is None:
            return "该任务不存在或已办结，请刷新后重试" if task_id else "案件已被他人更新，请刷新后重试"
        return done

    def _broadcast(self, scope: _Scope, actor: Actor) -> None:
        """After the throwing case committed: its uncaught signals go to every other case, each in its own
        command (as Camunda, the throwing case does not wait for the catchers)."""
        for event in scope.thrown if self.on_signal else ():
            self.on_signal(event.event_definition.name, dict(event.payload or {}), actor)

    # ---- incidents ----------------------------------------------------------------------------

    def _raise_incident(self, case_id: int, actor: Actor, failure: Failure, command: dict,
                        incident_id: int | None = None) -> None:
        incidents.record(self.db, self.clock.now(), case_id, actor, failure, command, incident_id,
                         self._seal_command)

    def _seal_command(self, session: Session, case_id: int, command: dict) -> dict:
        """The failed command as the incident keeps it: submitted reporter fields sealed (in the incident's
        own transaction, since the command's was rolled back), opened again when it is re-run."""
        if not command.get("data"):
            return command
        deployment_id = session.scalar(sa.select(Case.deployment_id).where(Case.id == case_id))
        confidential = confidential_fields(self.specs.for_id(session, deployment_id))
        data, _ = vault.seal(session, self.keyring, case_id, command["data"], confidential, self.clock.now())
        return {**command, "data": data}

    def _resolve(self, incident_id: int, resolver: Actor, skip: bool) -> str:
        """Re-run the failed command as it was given (same actor, same data); the resolver is recorded.
        An incident that went stale is closed as such instead: its command would only be refused."""
        with self.db.write() as session:
            command, case_id, original, resolution = incidents.resolution_for(session, incident_id, resolver, skip)
            deployment_id = session.scalar(sa.select(Case.deployment_id).where(Case.id == case_id))
            if incident_id in stale_incidents.sweep(session, case_id, deployment_id, self.clock.now(), resolver.name):
                return "stale"
        if command["command"] == "complete":
            with self.db.read() as session:
                data = vault.Revealer(session, self.keyring, case_id).data(command["data"])
            self.complete(command["task_id"], original, data, resolution)
        elif command["command"] == "deliver":
            trigger = Trigger(command["kind"], command["name"], command["data"], command["task_id"])
            self.deliver(case_id, trigger, original, resolution)
        elif command["command"] == "fire_timer":  # the scheduler parked the timer under the incident's name
            self.fire_timer(command["timer_id"], incident_owner(incident_id), resolution)
        else:
            self.run(case_id, original, resolution)
        return resolution.kind


def _rules_in(workflow: BpmnWorkflow) -> Callable[[WorkItem], arrivals.Rules]:
    def rules_of(item: WorkItem) -> arrivals.Rules:
        spec = find_task(workflow, item.task_id).task_spec
        return arrivals.Rules.of(spec.routing.properties if hasattr(spec, "routing") else {})
    return rules_of


def _submission(data: dict, sealed: vault.Sealed | None, **more: Any) -> dict:
    """The payload of an event that takes input: the data as sealed, and which fields the vault took."""
    return {"data": data, **more, **({"sealed": sealed.audit()} if sealed else {})}
