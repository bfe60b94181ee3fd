"""Saved queue filters: a user keeps the filters of a queue under a name, to apply them again with one
click. Only the queue parameters below are kept, so a saved filter never carries anything else."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.errors import EngineError, NotFound
from engine.store.models import SavedFilter

PARAMETERS = ("q", "stage", "channel", "category", "department", "sort", "dir")
MAX_NAME = 60
MAX_PER_USER = 50
MAX_VALUE = 200


class FilterRefused(EngineError):
    """A filter that cannot be saved; the message says why, in Chinese."""


def listed(session: Session, user_name: str) -> list[dict[str, Any]]:
    rows = session.scalars(sa.select(SavedFilter).where(SavedFilter.user_name == user_name)
                           .order_by(SavedFilter.name))
    return [{"id": row.id, "name": row.name, "view": row.view, "query": dict(row.query)} for row in rows]


def save(session: Session, user_name: str, name: str, view: str, query: dict[str, str], now: datetime) -> int:
    """Keeps `query`'s queue parameters under `name`, replacing the user's filter of that name."""
    name = " ".join(name.split())
    if not name:
        raise FilterRefused("请为筛选条件起一个名称")
    if len(name) > MAX_NAME:
        raise FilterRefused(f"名称至多 {MAX_NAME} 个字符")
    kept = {key: str(query[key]).strip()[:MAX_VALUE] for key in PARAMETERS if str(query.get(key) or "").strip()}
    if not kept:
        raise FilterRefused("当前没有任何筛选条件，无需保存")
    existing = session.scalars(sa.select(SavedFilter).where(SavedFilter.user_name == user_name,
                                                            SavedFilter.name == name)).first()
    if existing is not None:
        existing.view, existing.query, existing.created_at = view, kept, now
        return existing.id
    count = session.scalar(sa.select(sa.func.count()).where(SavedFilter.user_name == user_name)) or 0
    if count >= MAX_PER_USER:
        raise FilterRefused(f"每人至多保存 {MAX_PER_USER} 个筛选条件，请先删除不用的")
    row = SavedFilter(user_name=user_name, name=name, view=view, query=kept, created_at=now)
    session.add(row)
    session.flush()
    return row.id


def delete(session: Session, user_name: str, filter_id: int) -> str:
    """Deletes one of the user's own filters; returns its name. Another user's filter is not found."""
    row = session.get(SavedFilter, filter_id)
    if row is None or row.user_name != user_name:
        raise NotFound("筛选条件不存在")
    session.delete(row)
    return row.name
