"""Passwords: argon2 hashes (argon2-cffi), checked and upgraded on login."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from engine.store.models import User

MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()


class PasswordRejected(ValueError):
    """A new password that does not meet the rules; the message is for the user."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(f"密码至少需要 {MIN_PASSWORD_LENGTH} 位")
    return _hasher.hash(password)


@lru_cache(maxsize=4)
def initial_password_hash(password: str) -> str:
    """One hash for every user handed the same initial password (they share it anyway), so loading an
    organisation file stays fast."""
    return hash_password(password)


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


def set_password(session: Session, name: str, password: str) -> None:
    user = session.get(User, name)
    if user is None:
        raise LookupError(f"用户不存在：{name}")
    user.password_hash = hash_password(password)


def change_password(session: Session, name: str, current: str, new: str) -> None:
    if not authenticate(session, name, current):
        raise PasswordRejected("当前密码不正确")
    if new == current:
        raise PasswordRejected("新密码不能与当前密码相同")
    set_password(session, name, new)
