"""Reading a user's in-app notices (written by the `notices.send` handler) and marking them read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.store.models import Notice
from engine.timing.clock import current_clock


def unread(username: str) -> sa.ScalarSelect:
    return sa.select(sa.func.count()).select_from(Notice).where(
        Notice.username == username, Notice.read_at.is_(None)).scalar_subquery()


def unread_count(session: Session, username: str) -> int:
    return session.scalar(sa.select(unread(username))) or 0


def list_notices(session: Session, username: str, unread_only: bool = False, limit: int = 50) -> list[dict[str, Any]]:
    """The user's newest notices first."""
    query = sa.select(Notice).where(Notice.username == username)
    if unread_only:
        query = query.where(Notice.read_at.is_(None))
    rows = session.scalars(query.order_by(Notice.created_at.desc(), Notice.id.desc()).limit(limit))
    return [{"id": row.id, "case_id": row.case_id, "kind": row.kind, "text": row.text,
             "created_at": row.created_at, "read_at": row.read_at} for row in rows]


def mark_read(session: Session, username: str, notice_ids: Iterable[int], now: datetime | None = None) -> int:
    """Marks the user's own unread notices among `notice_ids` read (others' ids are ignored); returns how
    many. `now` defaults to the clock of the current command scope."""
    ids = list(notice_ids)
    if not ids:
        return 0
    result = session.execute(
        sa.update(Notice)
        .where(Notice.username == username, Notice.id.in_(ids), Notice.read_at.is_(None))
        .values(read_at=now or current_clock().now())
    )
    return result.rowcount
