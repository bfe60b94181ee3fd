"""Roles, departments and users: who may see and work on what.

The role catalogue follows DOMAIN.md; an office's file may add roles. Candidate groups in diagrams name
roles; a work item may also be bound to a department, which then must match the user's department.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.org.accounts import end_all_sessions, initial_password_hash
from engine.store.models import Department, Role, User, UserRole

ROLE_CATALOGUE: dict[str, str] = {
    "petition_staff": "信访室工作人员",
    "petition_head": "信访室主任",
    "leader_in_charge": "分管领导",
    "principal_leader": "主要负责同志",
    "handling_staff": "承办部门工作人员",
    "handling_leader": "承办部门分管领导",
    "supervision_office": "监督检查室",
    "case_review": "案件审理室",
    "coordination_office": "协调办",
    "process_owner": "流程管理员",
    "auditor": "审计员",
    "admin": "系统管理员",
}


@dataclass(frozen=True)
class Actor:
    name: str
    display_name: str = ""
    department: str | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def candidates(self) -> list[str]:
        """The keys under which work items name this actor (see WorkItemCandidate): each role, each role
        within the actor's department, the actor's own name."""
        keys = []
        for role in sorted(self.roles):
            keys.append(f"role:{role}")
            if self.department:
                keys.append(f"role:{role}@{self.department}")
        return keys + [f"user:{self.name}"]

    @property
    def label(self) -> str:
        return self.display_name or self.name


SYSTEM = Actor("system", "系统", None, frozenset({"admin"}))


class UnknownUser(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"用户不存在或已停用：{name}")
        self.message = str(self)


def known_roles(session: Session | None = None) -> dict[str, str]:
    roles = dict(ROLE_CATALOGUE)
    if session is not None:
        roles.update({role.name: role.label for role in session.scalars(sa.select(Role))})
    return roles


def arrival_roles(session: Session) -> set[str]:
    """Roles whose holders get a notice when work arrives for them (the role setting)."""
    return set(session.scalars(sa.select(Role.name).where(Role.notify_on_arrival.is_(True))))


def role_for_lane(lane: str | None, roles: dict[str, str]) -> str | None:
    """Lanes are named by role id or by the role's Chinese label."""
    if not lane:
        return None
    lane = lane.strip()
    if lane in roles:
        return lane
    return next((name for name, label in roles.items() if label == lane), None)


def active_user(session: Session, name: str) -> tuple[User, Actor]:
    """The active user's row and its actor with its roles, in one query (every page asks it first)."""
    rows = session.execute(sa.select(User, UserRole.role_name)
                           .outerjoin(UserRole, UserRole.user_name == User.name).where(User.name == name)).all()
    if not rows or not rows[0][0].active:
        raise UnknownUser(name)
    user = rows[0][0]
    return user, Actor(user.name, user.display_name, user.department, frozenset(role for _, role in rows if role))


def load_actor(session: Session, name: str) -> Actor:
    return active_user(session, name)[1]


def display_names(session: Session, names: Iterable[str]) -> dict[str, str]:
    """Login name -> display name, for the names that are users: pages and messages name people so."""
    names = {name for name in names if name}
    if not names:
        return {}
    return dict(session.execute(sa.select(User.name, User.display_name).where(User.name.in_(names))).all())


def display_name(session: Session, name: str) -> str:
    return display_names(session, {name}).get(name, name)


def load_organisation(session: Session, path: Path) -> dict[str, int]:
    """Create or update roles, departments and users from a TOML file; returns counts."""
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    return apply_organisation(session, document)


def apply_organisation(session: Session, document: dict) -> dict[str, int]:
    roles = {**ROLE_CATALOGUE, **document.get("roles", {})}
    notified = document.get("notify_on_arrival")  # role ids; absent: the settings stay as they are
    unknown = set(notified or ()) - set(roles)
    if unknown:
        raise ValueError(f"notify_on_arrival 中的角色不存在：{', '.join(sorted(unknown))}")
    for name, label in roles.items():
        role = Role(name=name, label=label)
        if notified is not None:
            role.notify_on_arrival = name in notified
        session.merge(role)
    for department in document.get("departments", []):
        session.merge(Department(code=department["code"], name=department["name"], kind=department.get("kind")))
    session.flush()
    users = document.get("users", [])
    # Demo and first set-up only: users without a password yet get this one and change it after login.
    initial_password = document.get("initial_password")
    for entry in users:
        _upsert_user(session, entry, roles, initial_password)
    return {"roles": len(roles), "departments": len(document.get("departments", [])), "users": len(users)}


def _upsert_user(session: Session, entry: dict, roles: Iterable[str], initial_password: str | None) -> None:
    unknown = set(entry.get("roles", [])) - set(roles)
    if unknown:
        raise ValueError(f"用户 {entry['name']} 的角色不存在：{', '.join(sorted(unknown))}")
    user = session.get(User, entry["name"]) or User(name=entry["name"])
    user.display_name = entry.get("display_name", entry["name"])
    user.department = entry.get("department")
    was_active, user.active = user.active, entry.get("active", True)
    if was_active and not user.active:
        end_all_sessions(session, user)
    if initial_password and not user.password_hash:
        user.password_hash = initial_password_hash(initial_password)
        user.must_change_password = True
    session.add(user)
    session.flush()
    session.execute(sa.delete(UserRole).where(UserRole.user_name == user.name))
    session.add_all(UserRole(user_name=user.name, role_name=role) for role in entry.get("roles", []))
