"""In-app notices (站内通知): reminders, overdue warnings, returns, supervision notices, new tasks.

Recipients are the active users holding any of the `roles`, plus the named `users`. A `department`
narrows the roles of departments (handling staff and leaders, supervision offices, case review, the
coordination office, an office's own roles) to that department's users. The petition office and the
commission's leaders oversee every item and sit in their own departments, so their roles
(OFFICE_WIDE_ROLES) are never narrowed: "the handling department and the leader in charge" is one call.
A `department` that is set but resolves to nothing (e.g. `{handling_department}` not chosen yet) reaches
no one of the department roles rather than everyone: a notice names the matter, and unrelated staff
must not see it.

A notice names its item, so it reaches only those who may read it (`_readers`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from string import Formatter

import sqlalchemy as sa

from engine.org import access
from engine.org.organisation import known_roles, load_actor
from engine.runtime.handlers_registry import HandlerContext, register
from engine.store.models import Case, Notice, Petition, User, UserRole
from handlers.common import SHANGHAI, text

OFFICE_WIDE_ROLES = frozenset({"petition_staff", "petition_head", "leader_in_charge", "principal_leader"})
KIND_LENGTH = 40
_FORMATTER = Formatter()
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)")


def _deadline(instant: datetime) -> str:
    """A deadline as the rules word it: one ending at midnight is "24:00" of its last day."""
    local = instant.astimezone(SHANGHAI)
    if (local.hour, local.minute, local.second) == (0, 0, 0):
        return (local - timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return local.strftime("%Y-%m-%d %H:%M")


def _display(value: object) -> str:
    if value is None or isinstance(value, Mapping):
        return ""
    if isinstance(value, str) and _INSTANT.fullmatch(value):
        # deadlines are kept as aware ISO text (engine/timing/calendar.py): shown as staff read them
        return _deadline(datetime.fromisoformat(value))
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime):
        return _deadline(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "、".join(filter(None, map(_display, value)))
    return str(value)


def fill(template: str, data: Mapping[str, object]) -> str:
    """`{key}` placeholders filled from the case data, missing keys empty. Only plain keys: no attribute or
    index access, conversions or format specs, and never reporter identity."""
    try:
        parts = list(_FORMATTER.parse(template))
    except ValueError:
        raise ValueError(f"通知模板格式错误（花括号不成对）：{template!r}") from None
    out = []
    for literal, field, spec, conversion in parts:
        out.append(literal)
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"通知模板的占位符只能是案件数据的键名，如 {{registration_number}}：{{{field}}}")
        if field.startswith("reporter_"):
            raise ValueError(f"通知不得包含举报人信息：{{{field}}}")
        out.append(_display(data.get(field)))
    return "".join(out)


def _names(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace("，", ",").split(",") if part.strip()]


def _role_members(context: HandlerContext, roles: list[str]) -> set[str]:
    unknown = sorted(set(roles) - set(known_roles(context.session)))
    if unknown:
        raise ValueError(f"服务任务属性 roles 含未知角色：{'、'.join(unknown)}")
    office_wide = [role for role in roles if role in OFFICE_WIDE_ROLES]
    bound = [role for role in roles if role not in OFFICE_WIDE_ROLES]
    conditions = [UserRole.role_name.in_(office_wide)] if office_wide else []
    if bound:
        template = context.properties.get("department")
        if template is None or not template.strip():
            conditions.append(UserRole.role_name.in_(bound))
        else:
            department = fill(template, context.data).strip()
            if department:
                conditions.append(sa.and_(UserRole.role_name.in_(bound), User.department == department))
    if not conditions:
        return set()
    return set(context.session.scalars(
        sa.select(User.name).join(UserRole, UserRole.user_name == User.name)
        .where(User.active.is_(True), sa.or_(*conditions))
    ))


def _named_users(context: HandlerContext, names: list[str]) -> set[str]:
    """Named users; one who has left (inactive) is skipped, a name that never existed is a diagram error."""
    users = {user.name: user for user in context.session.scalars(sa.select(User).where(User.name.in_(names)))}
    unknown = sorted(set(names) - set(users))
    if unknown:
        raise ValueError(f"服务任务属性 users 含不存在的用户：{'、'.join(unknown)}")
    return {name for name, user in users.items() if user.active}


def _readers(context: HandlerContext, names: set[str]) -> set[str]:
    """The recipients who may read the case. A sealed item's scope does not follow its open tasks, so the
    whole scope applies; for other items the task a notice announces is not yet among the work items while
    this command runs, so only the rule that nobody reads an item accusing them applies."""
    session = context.session
    sealed = session.scalar(sa.select(Petition.sealed).where(Petition.case_id == context.case_id))
    kept = set()
    for name in names:
        actor = load_actor(session, name)
        rule = access.case_scope(actor) if sealed else ~access.about_reader(actor)
        found = session.scalar(sa.select(Case.id).outerjoin(Petition, Petition.case_id == Case.id)
                               .where(Case.id == context.case_id, rule))
        if found is not None:
            kept.add(name)
    return kept


@register("notices.send")
def send_notices(context: HandlerContext) -> None:
    """Properties: `kind`, `text` (template), `roles` and/or `users` (comma-separated, may be templates such
    as `{proposer_group}`), `department` (optional, e.g. `{handling_department}`). One notice per recipient."""
    kind = text(context.properties.get("kind"))
    template = context.properties.get("text")
    # Placeholders let one diagram notify whoever a case routed to, e.g. roles="{proposer_group}".
    roles = _names(fill(context.properties.get("roles") or "", context.data))
    users = _names(fill(context.properties.get("users") or "", context.data))
    if kind is None or len(kind) > KIND_LENGTH:
        raise ValueError(f"服务任务属性 kind 必填，且不超过 {KIND_LENGTH} 个字符")
    if not template or not template.strip():
        raise ValueError("服务任务属性 text（通知内容模板）必填")
    if not roles and not users:
        raise ValueError("服务任务属性 roles 或 users 至少填写一项")
    body = fill(template, context.data)
    recipients = _readers(context, (_role_members(context, roles) if roles else set()) | (
        _named_users(context, users) if users else set()))
    context.session.add_all(
        Notice(case_id=context.case_id, username=name, kind=kind, text=body, created_at=context.now)
        for name in sorted(recipients)
    )
    context.session.flush()  # constraint errors surface here, as this handler's incident
