"""The append-only, hash-chained audit log.

Every row hashes its content together with the previous row's hash; the single `audit_head` row holds the
newest hash, is locked while appending (so the chain has one order across processes) and exposes rows
deleted at the end. Rows are never updated or deleted; corrections are new events.

A plain sha256 chain can be recomputed by anyone who can write the database, so with an audit key
(`Database.audit_key`, never stored in the database) rows are HMAC-SHA256 under that key (scheme 2). Older
rows keep their plain hash (scheme 1) and still verify; a plain row after a keyed one is a rewrite. Signed
checkpoints (engine/audit/anchor.py) pin the history to a head kept outside the database.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.errors import local_minutes
from engine.jsonutil import canonical
from engine.store.models import AuditHead, Event, User

GENESIS_HASH = "0" * 64
SCHEME_PLAIN, SCHEME_KEYED = 1, 2


@dataclass(frozen=True)
class TaskAddress:
    """How events name a task: stable across runs, unlike SpiffWorkflow's random task ids."""

    process_id: str | None = None
    bpmn_id: str | None = None
    ordinal: int | None = None


class MissingAuditKey(Exception):
    """A keyed row cannot be checked without the audit key."""


def _row_hash(event: Event, key: bytes | None = None) -> str:
    fields = {
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
    }
    if (event.scheme or SCHEME_PLAIN) == SCHEME_PLAIN:
        return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()
    if key is None:
        raise MissingAuditKey
    # The scheme is hashed too, so a keyed row cannot be relabelled as plain without breaking its link.
    content = canonical({**fields, "scheme": event.scheme})
    return hmac.new(key, content.encode("utf-8"), hashlib.sha256).hexdigest()


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
    key = session.info.get("audit_key")
    event.scheme = SCHEME_PLAIN if key is None else SCHEME_KEYED
    event.hash = _row_hash(event, key)
    event.id = connection.execute(_INSERT_EVENT, {name: getattr(event, name) for name in _EVENT_COLUMNS}).scalar_one()
    connection.execute(_MOVE_HEAD, {"last_event_id": event.id, "last_hash": event.hash})
    return event


def completed_by(session: Session, *criteria) -> str | None:
    """"Already completed by X at T" for the newest `complete` event matching `criteria`, if any."""
    found = session.execute(
        sa.select(Event.actor, Event.at, User.display_name).outerjoin(User, User.name == Event.actor)
        .where(Event.kind == "complete", *criteria).order_by(Event.id.desc()).limit(1)
    ).first()
    if found is None:
        return None
    return f"该任务已由 {found.display_name or found.actor} 于 {local_minutes(found.at)} 办理完毕"


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    first_bad_event: int | None = None
    message: str = ""
    plain: int = 0  # rows hashed without the key (written before keying)


@dataclass(frozen=True)
class Anchor:
    """A point of history known from outside the database (a verified checkpoint)."""

    event_id: int | None  # None: the chain was empty
    hash: str
    count: int


def verify(session: Session, key: bytes | None = None, anchor: Anchor | None = None,
           batch: int = 2000) -> VerifyReport:
    """Walk the chain in id order; name the first row that was edited, or around which rows were
    deleted or inserted. Then check that every case's events are numbered 1..n, and that the chain still
    passes through `anchor`."""
    expected_prev, last_id, checked, plain, keyed_seen = GENESIS_HASH, None, 0, 0, False
    anchored = anchor is None or anchor.event_id is None
    while True:
        query = sa.select(Event).order_by(Event.id).limit(batch)
        if last_id is not None:
            query = query.where(Event.id > last_id)
        rows = session.scalars(query).all()
        if not rows:
            break
        for event in rows:
            bad = _bad_row(event, expected_prev, key, keyed_seen)
            if bad:
                return VerifyReport(False, checked, event.id, bad, plain)
            keyed_seen = keyed_seen or event.scheme == SCHEME_KEYED
            plain += event.scheme != SCHEME_KEYED
            expected_prev, last_id = event.hash, event.id
            checked += 1
            if anchor is not None and event.id == anchor.event_id:
                if (event.hash, checked) != (anchor.hash, anchor.count):
                    return VerifyReport(False, checked, event.id,
                                        f"事件 {event.id} 与检查点不符：检查点之前的历史被删除、插入或改写", plain)
                anchored = True
        session.expunge_all()
    if not anchored:
        return VerifyReport(False, checked, anchor.event_id,
                            f"检查点记录的事件 {anchor.event_id} 已不在审计链中：检查点之前的历史被改写", plain)
    head = session.get(AuditHead, 1)
    head_hash = head.last_hash if head else GENESIS_HASH
    if head_hash != expected_prev or (head and head.last_event_id != last_id):
        last = head.last_event_id if head else None
        message = f"审计链末端不符：最后的事件应为 {last or '-'}，末尾事件被删除"
        return VerifyReport(False, checked, last, message, plain)
    gap = _first_gap(session)
    if gap is not None:
        return VerifyReport(False, checked, None, gap, plain)
    note = f"（其中 {plain} 条为启用密钥前的无密钥事件）" if plain and keyed_seen else ""
    unkeyed = "；审计链未使用密钥，数据库的写入者可以重算哈希" if plain and not keyed_seen and checked else ""
    return VerifyReport(True, checked, None, f"审计链完整，共 {checked} 条事件{note}{unkeyed}", plain)


def _bad_row(event: Event, expected_prev: str, key: bytes | None, keyed_seen: bool) -> str | None:
    if event.prev_hash != expected_prev:
        return f"事件 {event.id} 的前序哈希不符：其前面的事件被删除、插入或改动"
    if keyed_seen and event.scheme != SCHEME_KEYED:
        return f"事件 {event.id} 没有使用审计密钥，而前面已有带密钥的事件：审计链被改写"
    try:
        if not hmac.compare_digest(_row_hash(event, key), event.hash):
            return f"事件 {event.id} 的内容与哈希不符：该事件被改动"
    except MissingAuditKey:
        return f"事件 {event.id} 使用审计密钥签发，校验需要同一密钥（XINFANG_AUDIT_KEY 或实例目录中的 audit.key）"
    return None


def _first_gap(session: Session) -> str | None:
    """A case whose events are not numbered exactly 1..n: one of its events was deleted (or forged)."""
    seq = Event.case_seq
    bad = session.execute(
        sa.select(Event.case_id, sa.func.count(), sa.func.count(sa.distinct(seq)), sa.func.min(seq), sa.func.max(seq))
        .where(Event.case_id.is_not(None)).group_by(Event.case_id)
        .having(sa.or_(sa.func.min(seq) != 1, sa.func.max(seq) != sa.func.count(),
                       sa.func.count(sa.distinct(seq)) != sa.func.count()))
        .order_by(Event.case_id).limit(1)
    ).first()
    if bad is None:
        return None
    case_id, count, _distinct, low, high = bad
    return f"案件 {case_id} 的事件序号不连续（{count} 条事件，序号 {low}–{high}）：有事件被删除或伪造"
