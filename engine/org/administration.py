"""Administration of the organisation and the working-day calendar: departments, users and their roles,
the role catalogue, and the table of holidays and make-up working days.

Every change is one transaction that checks the acting administrator, refuses bad input with a message
fit for the page (nothing is written then) and appends one audit event. Users are never deleted:
deactivating keeps their name valid on every case and event they touched.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import audit
from engine.errors import EngineError, Forbidden, NotFound
from engine.org.accounts import PasswordRejected, end_all_sessions, hash_password
from engine.org.organisation import ROLE_CATALOGUE, Actor, arrival_roles, display_names, known_roles
from engine.store.db import Database
from engine.store.models import CalendarDay, Department, Deployment, Event, Role, User, UserRole, WorkItem
from engine.timing.calendar import parse_schedule


class EngineDoor(Protocol):
    """What these operations use of `engine.api.Engine` (the caller passes it), declared here so this
    room does not import the door."""

    db: Database

    def now(self) -> datetime: ...
    def forget_roles(self) -> None: ...
    def forget_calendar(self) -> None: ...


# Role and department codes appear in diagrams (candidate groups, `department` properties) and in URLs.
CODE_PATTERN = r"^[a-z][a-z0-9_]*$"
CODE_RULE = "只能用小写英文字母、数字和下划线，以字母开头"
USER_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
USER_NAME_RULE = "只能用英文字母、数字、下划线、点和连字符，以字母开头"
DEPARTMENT_KINDS = {
    "petition": "信访室", "handling": "承办部门", "review": "案件审理", "coordination": "协调办", "office": "办公室",
}
AUDIT_KINDS = (
    "user created", "user updated", "password reset", "department saved", "role saved",
    "calendar day saved", "calendar day deleted", "calendar imported",
)


class AdminRefused(EngineError):
    """Input the administrator must correct; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class UserDetails:
    """What an administrator sets on an account (the name and password are handled separately)."""

    display_name: str
    department: str | None
    roles: frozenset[str]
    active: bool = True


# ---- shared steps ------------------------------------------------------------------------------------


@contextmanager
def _change(engine: EngineDoor, actor: Actor) -> Iterator[Session]:
    # Checked here too, not only by the web guard: these functions are the engine's API.
    if "admin" not in actor.roles:
        raise Forbidden("只有系统管理员可以执行此操作")
    with engine.db.write() as session:
        yield session


def _record(engine: EngineDoor, session: Session, actor: Actor, kind: str, payload: dict[str, Any]) -> None:
    audit.append(session, kind=kind, actor=actor.name, at=engine.now(), payload=payload)


def _flush(session: Session, message: str, field: str) -> None:
    """Two administrators saving the same new code at once: the loser gets the page message, not a 500."""
    try:
        session.flush()
    except IntegrityError as clash:
        raise AdminRefused(message, field) from clash


def _check_code(value: str, what: str, field: str, pattern: str = CODE_PATTERN, rule: str = CODE_RULE) -> None:
    if not re.fullmatch(pattern, value):
        raise AdminRefused(f"{what}「{value}」无效：{rule}", field)


def _required(value: str, message: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise AdminRefused(message, field)
    return value


# ---- departments -------------------------------------------------------------------------------------


def departments(engine: EngineDoor) -> list[dict[str, Any]]:
    with engine.db.read() as session:
        members = dict(session.execute(sa.select(User.department, sa.func.count()).where(User.active.is_(True))
                                       .group_by(User.department)).all())
        return [{"code": d.code, "name": d.name, "kind": d.kind, "members": members.get(d.code, 0)}
                for d in session.scalars(sa.select(Department).order_by(Department.code))]


def department(engine: EngineDoor, code: str) -> dict[str, Any]:
    with engine.db.read() as session:
        row = session.get(Department, code)
        if row is None:
            raise NotFound(f"部门不存在：{code}")
        return {"code": row.code, "name": row.name, "kind": row.kind}


def save_department(engine: EngineDoor, actor: Actor, code: str, name: str, kind: str | None, *, create: bool) -> None:
    """Create a department or rename / re-kind one; the code never changes (diagrams and cases use it)."""
    code, name, kind = code.strip(), _required(name, "请填写部门名称", "name"), kind or None
    if create:
        _check_code(code, "部门代码", "code")
    with _change(engine, actor) as session:
        row = session.get(Department, code)
        if create and row is not None:
            raise AdminRefused(f"部门代码「{code}」已存在", "code")
        if not create and row is None:
            raise NotFound(f"部门不存在：{code}")
        namesake = session.scalar(sa.select(Department.code).where(Department.name == name, Department.code != code))
        if namesake:
            raise AdminRefused(f"部门名称「{name}」已被部门 {namesake} 使用", "name")
        previous = None if row is None else {"name": row.name, "kind": row.kind}
        row = row or Department(code=code)
        row.name, row.kind = name, kind
        session.add(row)
        _flush(session, f"部门代码「{code}」已存在", "code")
        _record(engine, session, actor, "department saved",
                {"code": code, "name": name, "kind": kind, "previous": previous})


# ---- users -------------------------------------------------------------------------------------------


def users(engine: EngineDoor) -> list[dict[str, Any]]:
    with engine.db.read() as session:
        names = dict(session.execute(sa.select(Department.code, Department.name)).all())
        held: dict[str, list[str]] = {}
        for user_name, role in session.execute(sa.select(UserRole.user_name, UserRole.role_name)
                                               .order_by(UserRole.role_name)):
            held.setdefault(user_name, []).append(role)
        return [{"name": u.name, "display_name": u.display_name, "department": u.department,
                 "department_name": names.get(u.department, u.department or ""), "roles": held.get(u.name, []),
                 "active": u.active}
                for u in session.scalars(sa.select(User).order_by(User.active.desc(), User.name))]


def user(engine: EngineDoor, name: str) -> dict[str, Any]:
    with engine.db.read() as session:
        row = _user_row(session, name)
        open_items = session.scalar(sa.select(sa.func.count()).select_from(WorkItem).where(WorkItem.assignee == name))
        return {"name": row.name, "display_name": row.display_name, "department": row.department,
                "roles": sorted(_roles_of(session, name)), "active": row.active, "open_items": open_items}


def create_user(engine: EngineDoor, actor: Actor, name: str, details: UserDetails, password: str) -> None:
    name = name.strip()
    _check_code(name, "用户名", "name", USER_NAME_PATTERN, USER_NAME_RULE)
    password_hash = _hash(password, name)  # before the transaction: hashing is slow, the write lock is not free
    with _change(engine, actor) as session:
        if session.get(User, name) is not None:
            raise AdminRefused(f"用户名「{name}」已存在", "name")
        _check_details(session, details)
        # the administrator knows this password, so the user replaces it at the first login
        session.add(User(name=name, display_name=details.display_name.strip(), department=details.department,
                         active=details.active, password_hash=password_hash, must_change_password=True))
        _flush(session, f"用户名「{name}」已存在", "name")
        _set_roles(session, name, details.roles)
        _record(engine, session, actor, "user created", {"user": name, **_snapshot(details)})


def update_user(engine: EngineDoor, actor: Actor, name: str, details: UserDetails) -> dict[str, list]:
    """Returns the changes as {field: [before, after]} (empty when nothing changed; then no event)."""
    with _change(engine, actor) as session:
        # The acting administrator always stays one, so the office can never lock itself out.
        if name == actor.name and not details.active:
            raise AdminRefused("不能停用自己的账号", "active")
        if name == actor.name and "admin" not in details.roles:
            raise AdminRefused("不能取消自己的系统管理员角色", "roles")
        row = _user_row(session, name)
        _check_details(session, details)
        before = _snapshot(UserDetails(row.display_name, row.department, frozenset(_roles_of(session, name)),
                                       row.active))
        after = _snapshot(details)
        changes = {key: [before[key], after[key]] for key in after if before[key] != after[key]}
        if changes:
            if row.active and not details.active:
                end_all_sessions(session, row)
            row.display_name, row.department, row.active = after["display_name"], details.department, details.active
            _set_roles(session, name, details.roles)
            _record(engine, session, actor, "user updated", {"user": name, "changes": changes})
        return changes


def reset_password(engine: EngineDoor, actor: Actor, name: str, password: str) -> None:
    """The administrator sets a new password, which the user must replace at the next login; the user's
    open sessions end."""
    password_hash = _hash(password, name)
    with _change(engine, actor) as session:
        row = _user_row(session, name)
        row.password_hash, row.must_change_password = password_hash, True
        end_all_sessions(session, row)
        _record(engine, session, actor, "password reset", {"user": name})


def _hash(password: str, name: str) -> str:
    try:
        return hash_password(password, name)
    except PasswordRejected as rejected:
        raise AdminRefused(str(rejected), "password") from rejected


def _user_row(session: Session, name: str) -> User:
    row = session.get(User, name)
    if row is None:
        raise NotFound(f"用户不存在：{name}")
    return row


def _roles_of(session: Session, name: str) -> set[str]:
    return set(session.scalars(sa.select(UserRole.role_name).where(UserRole.user_name == name)))


def _check_details(session: Session, details: UserDetails) -> None:
    _required(details.display_name, "请填写姓名", "display_name")
    if details.department and session.get(Department, details.department) is None:
        raise AdminRefused(f"部门不存在：{details.department}", "department")
    unknown = details.roles - set(known_roles(session))
    if unknown:
        raise AdminRefused(f"角色不存在：{'、'.join(sorted(unknown))}", "roles")


def _set_roles(session: Session, name: str, roles: frozenset[str]) -> None:
    # A catalogue role may be missing from the table (an organisation loaded before it was added); the
    # user_roles foreign key needs its row.
    for role in roles - set(session.scalars(sa.select(Role.name))):
        session.add(Role(name=role, label=ROLE_CATALOGUE[role]))
    session.execute(sa.delete(UserRole).where(UserRole.user_name == name))
    session.add_all(UserRole(user_name=name, role_name=role) for role in sorted(roles))


def _snapshot(details: UserDetails) -> dict[str, Any]:
    return {"display_name": details.display_name.strip(), "department": details.department,
            "roles": sorted(details.roles), "active": details.active}


# ---- roles -------------------------------------------------------------------------------------------


def roles(engine: EngineDoor) -> list[dict[str, Any]]:
    with engine.db.read() as session:
        holders = dict(session.execute(
            sa.select(UserRole.role_name, sa.func.count()).join(User, User.name == UserRole.user_name)
            .where(User.active.is_(True)).group_by(UserRole.role_name)).all())
        notified = arrival_roles(session)
        return [{"name": name, "label": label, "builtin": name in ROLE_CATALOGUE, "users": holders.get(name, 0),
                 "notify_on_arrival": name in notified}
                for name, label in known_roles(session).items()]


def save_role(engine: EngineDoor, actor: Actor, name: str, label: str, *, create: bool,
              notify_on_arrival: bool = False) -> None:
    """Add a custom role or relabel one; the identifier never changes (diagrams name it).
    `notify_on_arrival`: its holders get a notice when a task arrives for them."""
    name, label = name.strip(), _required(label, "请填写角色名称", "label")
    if create:
        _check_code(name, "角色标识", "name")
    with _change(engine, actor) as session:
        catalogue = known_roles(session)
        if create and name in catalogue:
            raise AdminRefused(f"角色标识「{name}」已存在", "name")
        if not create and name not in catalogue:
            raise NotFound(f"角色不存在：{name}")
        _check_label(session, catalogue, name, label)
        previous = catalogue.get(name)
        session.merge(Role(name=name, label=label, notify_on_arrival=notify_on_arrival))
        _flush(session, f"角色标识「{name}」已存在", "name")
        _record(engine, session, actor, "role saved", {"role": name, "label": label, "previous_label": previous,
                                                       "notify_on_arrival": notify_on_arrival})
    engine.forget_roles()


def _check_label(session: Session, catalogue: dict[str, str], name: str, label: str) -> None:
    # Lanes may be named by a role's label, so labels must stay unique and a label a lane uses must stay.
    namesake = next((other for other, text in catalogue.items() if text == label and other != name), None)
    if namesake:
        raise AdminRefused(f"角色名称「{label}」已被角色 {namesake} 使用", "label")
    old = catalogue.get(name)
    if old is not None and old != label:
        lane = re.compile(rf'<(?:\w+:)?lane\b[^>]*\bname="{re.escape(html.escape(old))}"')
        for process_id, files in session.execute(sa.select(Deployment.process_id, Deployment.files)):
            if any(lane.search(text) for text in files.values()):
                raise AdminRefused(f"流程「{process_id}」的泳道以「{old}」命名，请先在流程图中改用角色标识 {name} "
                                   "并重新部署，再修改名称", "label")


# ---- working-day calendar ----------------------------------------------------------------------------


def calendar_years(engine: EngineDoor) -> list[int]:
    with engine.db.read() as session:
        return sorted({day.year for day in session.scalars(sa.select(CalendarDay.day))})


def calendar_days(engine: EngineDoor, year: int) -> list[dict[str, Any]]:
    with engine.db.read() as session:
        rows = session.scalars(sa.select(CalendarDay).where(CalendarDay.day.between(date(year, 1, 1),
                                                                                     date(year, 12, 31)))
                               .order_by(CalendarDay.day))
        return [_day_dict(row) for row in rows]


def calendar_day(engine: EngineDoor, day: date) -> dict[str, Any]:
    with engine.db.read() as session:
        return _day_dict(_day_row(session, day))


def save_calendar_day(engine: EngineDoor, actor: Actor, day: date, workday: bool, note: str, *, create: bool) -> None:
    with _change(engine, actor) as session:
        row = session.get(CalendarDay, day)
        if create and row is not None:
            raise AdminRefused(f"{day} 已有记录，请在列表中修改该行", "day")
        if not create and row is None:
            raise NotFound(f"日历中没有 {day} 这一行")
        previous = None if row is None else _day_dict(row)
        row = row or CalendarDay(day=day)
        row.workday, row.note = workday, note.strip()
        session.add(row)
        _flush(session, f"{day} 已有记录，请在列表中修改该行", "day")
        _record(engine, session, actor, "calendar day saved", {**_day_dict(row), "previous": previous})
    engine.forget_calendar()  # deadlines computed from now on use the change at once


def delete_calendar_day(engine: EngineDoor, actor: Actor, day: date) -> None:
    with _change(engine, actor) as session:
        row = _day_row(session, day)
        _record(engine, session, actor, "calendar day deleted", _day_dict(row))
        session.delete(row)
    engine.forget_calendar()


def import_schedule(engine: EngineDoor, actor: Actor, filename: str, content: bytes) -> int:
    """Store a year's schedule file (the format of `xinfang calendar import`), replacing rows of the same
    dates; all rows or none. Returns the number of days."""
    fmt = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    try:
        # utf-8-sig: Excel's UTF-8 CSV starts with a byte-order mark
        days = parse_schedule(content.decode("utf-8-sig"), fmt)
    except UnicodeDecodeError as bad:
        raise AdminRefused("文件应为 UTF-8 编码（Excel 请选择“CSV UTF-8”另存）", "file") from bad
    except ValueError as bad:
        raise AdminRefused(str(bad), "file") from bad
    if not days:
        raise AdminRefused("文件中没有任何日期", "file")
    with _change(engine, actor) as session:
        for entry in days:
            session.merge(CalendarDay(day=entry.day, workday=entry.workday, note=entry.note))
        _record(engine, session, actor, "calendar imported", {
            "file": filename, "days": [[d.day.isoformat(), d.workday, d.note] for d in days]})
    engine.forget_calendar()
    return len(days)


def _day_row(session: Session, day: date) -> CalendarDay:
    row = session.get(CalendarDay, day)
    if row is None:
        raise NotFound(f"日历中没有 {day} 这一行")
    return row


def _day_dict(row: CalendarDay) -> dict[str, Any]:
    return {"day": row.day.isoformat(), "workday": row.workday, "note": row.note}


# ---- history -----------------------------------------------------------------------------------------


def recent_changes(engine: EngineDoor, limit: int = 10) -> list[dict[str, Any]]:
    """The newest administration events, for the admin start page."""
    with engine.db.read() as session:
        rows = session.scalars(sa.select(Event).where(Event.kind.in_(AUDIT_KINDS)).order_by(Event.id.desc())
                               .limit(limit))
        events = list(rows)
        people = display_names(session, {e.actor for e in events})
        return [{"at": e.at, "actor": e.actor, "actor_name": people.get(e.actor, e.actor), "kind": e.kind,
                 "payload": json.loads(e.payload)} for e in events]
