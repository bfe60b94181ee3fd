"""Login sessions kept in the database, so every process sharing it agrees on which are alive.

The browser holds only a random session id (256 bits); the table keeps its SHA-256. A session is alive
while its row exists, the user is active, the user's `session_token` is the one the session was opened
under, it was used within IDLE_TIMEOUT and opened within ABSOLUTE_TIMEOUT. Logout deletes the row;
rotating the user's token (`accounts.end_all_sessions`) ends all of the user's sessions at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.org.organisation import Actor, UnknownUser, active_user
from engine.store.models import LoginSession, User

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=10)
# `seen_at` is written at most this often: one write per session and minute, not one per page
SEEN_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """The actor of a live session, and whether the actor must first replace an initial password."""

    actor: Actor
    must_change_password: bool


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(session: Session, user: User, now: datetime) -> str:
    """A new session of `user`; returns the id for the cookie. Dead sessions go too: the user's, and
    everyone's past the absolute limit, so the table holds no more than the last hours' logins."""
    session.execute(sa.delete(LoginSession).where(sa.or_(
        LoginSession.created_at < now - ABSOLUTE_TIMEOUT,
        sa.and_(LoginSession.user_name == user.name,
                sa.or_(LoginSession.user_token != user.session_token, LoginSession.seen_at < now - IDLE_TIMEOUT)))))
    session_id = secrets.token_urlsafe(32)
    session.add(LoginSession(id_hash=_digest(session_id), user_name=user.name, user_token=user.session_token,
                             created_at=now, seen_at=now))
    return session_id


def live_session(session: Session, session_id: str, now: datetime) -> tuple[SignedIn, bool] | None:
    """The signed-in actor of a live session and whether its `seen_at` is due to be written; None when
    the session is unknown, ended or timed out."""
    row = session.get(LoginSession, _digest(session_id))
    if row is None or now - row.seen_at > IDLE_TIMEOUT or now - row.created_at > ABSOLUTE_TIMEOUT:
        return None
    try:
        user, actor = active_user(session, row.user_name)
    except UnknownUser:
        return None
    if not secrets.compare_digest(user.session_token, row.user_token):
        return None
    return SignedIn(actor, user.must_change_password), now - row.seen_at >= SEEN_RESOLUTION


def touch(session: Session, session_id: str, now: datetime) -> None:
    session.execute(sa.update(LoginSession).where(LoginSession.id_hash == _digest(session_id)).values(seen_at=now))


def end_session(session: Session, session_id: str) -> None:
    session.execute(sa.delete(LoginSession).where(LoginSession.id_hash == _digest(session_id)))
