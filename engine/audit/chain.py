"""The append-only, hash-chained audit log.

Every row hashes its content together with the previous row's hash; the single `audit_head` row holds the
newest hash, is locked while appending (so the chain has one order across processes) and exposes rows
deleted at the end. Rows are never updated or deleted; corrections are new events.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.errors import local_minutes
from engine.jsonutil import canonical
from engine.store.models import AuditHead, Event

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class TaskAddress:
    """How events name a task: stable across runs, unlike SpiffWorkflow's random task ids."""

    process_id: str | None = None
    bpmn_id: str | None = None
    ordinal: int | None = None


def _row_hash(event: Event) -> str:
    content = canonical({
        "case_id": event.case_id,
        "case_seq": event.case_seq,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "kind": event.kind,
        "deployment_id": event.deployment_id,
        "process_id": event.process_id,
        "bpmn_id": event.bpmn_id,
        "ordinal": event.ordinal,
        "task_id": event.task_id,
        "payload": event.payload,
        "prev_hash": event.prev_hash,
    })
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


# Built once: SQLAlchemy caches the compiled form per statement object, so reusing these skips building,
# keying and compiling them on every append (several statements per command, see docs/performance.md).
_HEAD = AuditHead.__table__
_EVENTS = Event.__table__
# The row is created by the first migration, so concurrent first appends cannot race to create it.
_LOCK_HEAD = sa.select(_HEAD.c.last_hash).where(_HEAD.c.id == 1).with_for_update()
_LAST_CASE_SEQ = sa.select(sa.func.max(_EVENTS.c.case_seq)).where(_EVENTS.c.case_id == sa.bindparam("of_case"))
_INSERT_EVENT = sa.insert(_EVENTS).returning(_EVENTS.c.id)
_MOVE_HEAD = sa.update(_HEAD).where(_HEAD.c.id == 1)
_EVENT_COLUMNS = tuple(column.name for column in _EVENTS.columns if column.name != "id")


def append(
    session: Session,
    *,
    kind: str,
    actor: str,
    at: datetime,
    payload: dict[str, Any] | None = None,
    case_id: int | None = None,
    deployment_id: int | None = None,
    task: TaskAddress = TaskAddress(),
    task_id: str | None = None,
) -> Event:
    """Append one event in the session's transaction. The returned row is not in the session: it is
    written with Core statements."""
    connection = session.connection()
    prev_hash = connection.execute(_LOCK_HEAD).scalar_one()
    case_seq = None
    if case_id is not None:
        case_seq = (connection.execute(_LAST_CASE_SEQ, {"of_case": case_id}).scalar() or 0) + 1
    event = Event(
        case_id=case_id, case_seq=case_seq, at=at, actor=actor, kind=kind, deployment_id=deployment_id,
        process_id=task.process_id, bpmn_id=task.bpmn_id, ordinal=task.ordinal,
        task_id=task_id, payload=canonical(payload or {}), prev_hash=prev_hash,
    )
    event.hash = _row_hash(event)
    event.id = connection.execute(_INSERT_EVENT, {name: getattr(event, name) for name in _EVENT_COLUMNS}).scalar_one()
    connection.execute(_MOVE_HEAD, {"last_event_id": event.id, "last_hash": event.hash})
    return event


def completed_by(session: Session, *criteria) -> str | None:
    """"Already completed by X at T" for the newest `complete` event matching `criteria`, if any."""
    done = session.scalars(
        sa.select(Event).where(Event.kind == "complete", *criteria).order_by(Event.id.desc()).limit(1)
    ).first()
    return f"该任务已由 {done.actor} 于 {local_minutes(done.at)} 办理完毕" if done else None


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    first_bad_event: int | None = None
    message: str = ""


def verify(session: Session, batch: int = 2000) -> VerifyReport:
    """Walk the chain in id order; name the first row that was edited, or around which rows were
    deleted or inserted."""
    expected_prev, last_id, checked = GENESIS_HASH, None, 0
    while True:
        query = sa.select(Event).order_by(Event.id).limit(batch)
        if last_id is not None:
            query = query.where(Event.id > last_id)
        rows = session.scalars(query).all()
        if not rows:
            break
        for event in rows:
            if event.prev_hash != expected_prev:
                return VerifyReport(False, checked, event.id,
                                    f"事件 {event.id} 的前序哈希不符：其前面的事件被删除、插入或改动")
            if _row_hash(event) != event.hash:
                return VerifyReport(False, checked, event.id, f"事件 {event.id} 的内容与哈希不符：该事件被改动")
            expected_prev, last_id = event.hash, event.id
            checked += 1
        session.expunge_all()
    head = session.get(AuditHead, 1)
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_hash != expected_prev or (head and head.last_event_id != last_id):
        return VerifyReport(False, checked, head.last_event_id if head else None,
                            f"审计链末端不符：最后的事件应为 {head.last_event_id if head else '-'}，末尾事件被删除")
    return VerifyReport(True, checked, None, f"审计链完整，共 {checked} 条事件")
