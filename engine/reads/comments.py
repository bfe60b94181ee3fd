"""Comments on a case (批注): short notes any reader of the case may add, kept as `comment` events of the
case's hash-chained audit log — so a comment is audited by being written, is never edited or deleted,
and is read with the same scope as the case. They show in the case timeline and in the comment list.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import EngineError
from engine.jsonutil import jsonable
from engine.org.organisation import Actor
from engine.reads.views import display_names
from engine.store.models import Event

KIND = "comment"
MAX_LENGTH = 2000


class CommentRejected(EngineError):
    """A comment that may not be added; the message is for the user."""


def add(session: Session, case_id: int, actor: Actor, text: str, now: datetime) -> None:
    """Append the comment to a case already checked to be in the actor's scope."""
    text = text.strip()
    if not text:
        raise CommentRejected("评论内容不能为空")
    if len(text) > MAX_LENGTH:
        raise CommentRejected(f"评论不能超过 {MAX_LENGTH} 字（现有 {len(text)} 字）")
    audit.append(session, kind=KIND, actor=actor.name, at=now, case_id=case_id, payload={"text": text})


def listed(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's comments, newest first: who (display name), when, what."""
    rows = session.execute(sa.select(Event.actor, Event.at, Event.payload).where(
        Event.case_id == case_id, Event.kind == KIND).order_by(Event.case_seq.desc())).all()
    people = display_names(session, {actor for actor, _, _ in rows})
    return jsonable([{"actor": actor, "actor_name": people.get(actor, actor), "at": at,
                      "text": json.loads(payload)["text"]} for actor, at, payload in rows])
