"""Passwords: argon2 hashes (argon2-cffi), checked and upgraded on login; the password policy; ending a
user's sessions."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from engine.store.models import LoginSession, User

MIN_PASSWORD_LENGTH = 12
_hasher = PasswordHasher()


class PasswordRejected(ValueError):
    """A new password that does not meet the rules; the message is for the user."""


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    lines = (Path(__file__).with_name("common_passwords.txt").read_text(encoding="utf-8").splitlines())
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def check_password(password: str, name: str | None = None) -> None:
    """Raises PasswordRejected unless the password may be chosen (by or for the user `name`)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"密码至少需要 {MIN_PASSWORD_LENGTH} 位")
    if password.lower() in _common_passwords() or len(set(password)) < 4:
        raise PasswordRejected("该密码过于常见或过于简单，请换一个")
    if name and len(name) >= 3 and name.lower() in password.lower():
        raise PasswordRejected("密码不能包含用户名")


def hash_password(password: str, name: str | None = None) -> str:
    check_password(password, name)
    return _hasher.hash(password)


@lru_cache(maxsize=4)
def initial_password_hash(password: str) -> str:
    """One hash for every user handed the same initial password (they share it anyway), so loading an
    organisation file stays fast. Not held to the policy: it must be replaced at the first login."""
    if not password:
        raise PasswordRejected("初始密码不能为空")
    return _hasher.hash(password)


def authenticate(session: Session, name: str, password: str) -> bool:
    """Whether the name and password are those of an active user (no hint which one was wrong)."""
    user = session.get(User, name)
    if user is None or not user.active or not user.password_hash:
        _hasher.hash(password)  # same work as a real check, so timing does not reveal unknown names
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def end_all_sessions(session: Session, user: User) -> None:
    """Every session of the user ends, in every process: the token they were opened under is replaced."""
    user.session_token = secrets.token_urlsafe(32)
    session.execute(sa.delete(LoginSession).where(LoginSession.user_name == user.name))


def set_password(session: Session, name: str, password: str) -> None:
    """The user's own new password: the policy applies, and all the user's sessions end."""
    user = session.get(User, name)
    if user is None:
        raise LookupError(f"用户不存在：{name}")
    user.password_hash = hash_password(password, name)
    user.must_change_password = False
    end_all_sessions(session, user)


def change_password(session: Session, name: str, current: str, new: str) -> None:
    if not authenticate(session, name, current):
        raise PasswordRejected("当前密码不正确")
    if new == current:
        raise PasswordRejected("新密码不能与当前密码相同")
    set_password(session, name, new)
