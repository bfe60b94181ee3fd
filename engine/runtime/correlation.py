"""Messages and signals from outside a case, as Camunda 7 correlates them.

A message names its target by the message name plus correlation keys: `businessKey` (the case's business
key) and any other key compared with the case's variables. Exactly one waiting case must match — or, when
none waits, exactly one deployed process must start with that message; anything else is refused, as
Camunda refuses it (no message is stored for later). A signal reaches every case waiting for it and starts
every process with a signal start event of that name. Candidates come from the subscription table and the
cases' data snapshots: no workflow is deserialised to find them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent

from engine.bpmn.deployments import SpecCache
from engine.errors import Conflict, IncidentRaised, NotFound
from engine.org.organisation import Actor
from engine.runtime import subscriptions
from engine.runtime.commands import CommandRunner
from engine.runtime.events import Trigger
from engine.store.db import Database
from engine.store.models import Case, Deployment, EventSubscription

BUSINESS_KEY = "businessKey"


def _matches(keys: Mapping[str, Any], business_key: str | None, data: dict) -> bool:
    for name, value in keys.items():
        if name == BUSINESS_KEY:
            if business_key != str(value):
                return False
        elif name not in data or data[name] != value:
            return False
    return True


def _waiting(db: Database, kind: str, name: str) -> list[tuple[int, str, str | None, dict]]:
    with db.read() as session:
        rows = session.execute(
            sa.select(EventSubscription.case_id, EventSubscription.task_id, Case.business_key, Case.data)
            .join(Case, Case.id == EventSubscription.case_id)
            .where(EventSubscription.kind == kind, EventSubscription.name == name)
            .order_by(EventSubscription.case_id, EventSubscription.id))
        return [tuple(row) for row in rows]


def start_events(db: Database, specs: SpecCache, kind: str, name: str) -> list[tuple[str, str]]:
    """(process id, start event id) of the latest deployment of every process started by this event."""
    with db.read() as session:
        latest = sa.select(Deployment.process_id, sa.func.max(Deployment.version).label("version")) \
            .group_by(Deployment.process_id).subquery()
        deployments = session.scalars(sa.select(Deployment).join(latest, sa.and_(
            Deployment.process_id == latest.c.process_id, Deployment.version == latest.c.version))
            .order_by(Deployment.process_id)).all()
        found = []
        for deployment in deployments:
            spec = specs.get(deployment).spec
            for task_spec in spec.task_specs.values():
                if isinstance(task_spec, StartEvent) and any(
                        k == kind and n == name for k, n, _ in subscriptions.definitions(task_spec)):
                    found.append((deployment.process_id, task_spec.bpmn_id))
        return found


def correlate(db: Database, specs: SpecCache, commands: CommandRunner, message: str, keys: Mapping[str, Any],
              data: Mapping[str, Any], actor: Actor) -> int:
    """Deliver the message to the one case waiting for it (or start the one process it starts): the case id."""
    if not message.strip():
        raise NotFound("消息名称不能为空")
    keys, data = dict(keys), dict(data)
    waiting = [(case_id, task_id) for case_id, task_id, business_key, case_data in _waiting(db, "message", message)
               if _matches(keys, business_key, case_data or {})]
    if len(waiting) > 1:
        cases = "、".join(str(case_id) for case_id in sorted({case_id for case_id, _ in waiting}))
        raise Conflict(f"消息“{message}”匹配到 {len(waiting)} 个等待中的事件（案件 {cases}），"
                       "请提供能唯一确定案件的关联键")
    if waiting:
        case_id, task_id = waiting[0]
        return commands.deliver(case_id, Trigger("message", message, data, task_id), actor)
    starts = start_events(db, specs, "message", message)
    if len(starts) > 1:
        processes = "、".join(process_id for process_id, _ in starts)
        raise Conflict(f"消息“{message}”可启动多个流程（{processes}），无法确定启动哪一个")
    if not starts:
        described = "、".join(f"{k}={v}" for k, v in keys.items()) or "无关联键"
        raise NotFound(f"没有等待消息“{message}”的案件（{described}），也没有以该消息启动的流程")
    process_id, bpmn_id = starts[0]
    business_key = keys.get(BUSINESS_KEY)
    return commands.start(process_id, data, actor, None if business_key is None else str(business_key),
                          Trigger("message", message, data, bpmn_id=bpmn_id))


def broadcast(db: Database, specs: SpecCache, commands: CommandRunner, signal: str, data: Mapping[str, Any],
              actor: Actor) -> list[int]:
    """Deliver the signal to every case waiting for it and start every process it starts: the case ids."""
    data = dict(data)
    reached = []
    for case_id in sorted({case_id for case_id, *_ in _waiting(db, "signal", signal)}):
        try:
            reached.append(commands.deliver(case_id, Trigger("signal", signal, data), actor))
        except Conflict:
            continue  # the case moved on between the query and its command: it no longer waits
        except IncidentRaised:
            continue  # recorded on that case; the other cases still get the signal
    for process_id, bpmn_id in start_events(db, specs, "signal", signal):
        reached.append(commands.start(process_id, data, actor, trigger=Trigger("signal", signal, data,
                                                                                bpmn_id=bpmn_id)))
    return reached
