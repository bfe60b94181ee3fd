"""Administration pages: departments, users and their roles, the role catalogue, the working-day calendar.

Admins only. The data operations, their checks and audit events live in engine/org/administration.py; this
module turns forms into calls and the engine's refusals into messages next to the field concerned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_wtf import FlaskForm

from engine.api import DEPARTMENT_KINDS, SHANGHAI, AdminRefused, NotFound, UserDetails
from engine.api import administration as admin_ops
from web.admin_forms import (
    CalendarDayEditForm,
    CalendarDayForm,
    CalendarImportForm,
    DepartmentForm,
    PasswordResetForm,
    RoleForm,
    RoleLabelForm,
    UserCreateForm,
    UserDetailsForm,
    UserEditForm,
)
from web.auth import require_role
from web.current import current_engine

bp = Blueprint("admin", __name__, url_prefix="/admin")
INVALID = 422  # the page again, with what was typed and the messages
EVENT_LABELS = {
    "user created": "新建用户", "user updated": "修改用户", "password reset": "重置密码",
    "department saved": "保存部门", "role saved": "保存角色", "calendar day saved": "保存日历行",
    "calendar day deleted": "删除日历行", "calendar imported": "导入放假安排",
}
WEEKDAYS = "一二三四五六日"


@bp.before_request
@require_role("admin")
def only_admins() -> None:
    return None


def _submit(form: FlaskForm, action: Callable[[], str], target: str, page: Callable[[], str]):
    """Run `action` for a valid submitted form and go to `target` with the message it returns; otherwise
    show `page` again with what was typed and the messages (the engine wrote nothing)."""
    if form.validate_on_submit():
        try:
            done = action()
        except AdminRefused as refused:
            field = getattr(form, refused.field or "", None)
            if field is None:
                flash(refused.message, "error")
            else:
                field.errors.append(refused.message)
        else:
            flash(done, "info")
            return redirect(target)
    return page(), INVALID if request.method == "POST" else 200


# ---- start page --------------------------------------------------------------------------------------


@bp.get("/")
def index():
    engine = current_engine()
    return render_template("admin/index.html", warning=engine.calendar_warning(),
                           changes=admin_ops.recent_changes(engine), event_labels=EVENT_LABELS)


# ---- departments -------------------------------------------------------------------------------------


@bp.get("/departments")
def departments():
    return render_template("admin/departments.html", departments=admin_ops.departments(current_engine()),
                           kinds=DEPARTMENT_KINDS)


@bp.route("/departments/new", methods=["GET", "POST"])
def department_new():
    form = _with_kinds(DepartmentForm(), None)

    def save() -> str:
        admin_ops.save_department(current_engine(), g.actor, form.code.data, form.name.data, form.kind.data,
                                  create=True)
        return f"部门「{form.name.data.strip()}」已创建"

    return _submit(form, save, url_for("admin.departments"),
                   lambda: render_template("admin/department.html", form=form, create=True))


@bp.route("/departments/<code>", methods=["GET", "POST"])
def department_edit(code: str):
    current = admin_ops.department(current_engine(), code)
    form = _with_kinds(DepartmentForm(data=current), current["kind"])
    form.code.data = code  # the code is fixed once created: diagrams, cases and users refer to it

    def save() -> str:
        admin_ops.save_department(current_engine(), g.actor, code, form.name.data, form.kind.data, create=False)
        return f"部门「{form.name.data.strip()}」已保存"

    return _submit(form, save, url_for("admin.departments"),
                   lambda: render_template("admin/department.html", form=form, create=False))


def _with_kinds(form: DepartmentForm, current: str | None) -> DepartmentForm:
    choices = {"": "（未分类）", **DEPARTMENT_KINDS}
    if current and current not in DEPARTMENT_KINDS:  # a kind from an organisation file stays selectable
        choices[current] = current
    form.kind.choices = choices
    return form


# ---- users -------------------------------------------------------------------------------------------


@bp.get("/users")
def users():
    engine = current_engine()
    return render_template("admin/users.html", users=admin_ops.users(engine),
                           role_labels={r["name"]: r["label"] for r in admin_ops.roles(engine)})


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = _with_choices(UserCreateForm())

    def save() -> str:
        admin_ops.create_user(current_engine(), g.actor, form.name.data, _details(form), form.password.data)
        return f"用户「{form.name.data.strip()}」已创建，请将初始密码告知本人并提醒其登录后修改"

    return _submit(form, save, url_for("admin.users"),
                   lambda: render_template("admin/user_new.html", form=form))


@bp.route("/users/<name>", methods=["GET", "POST"])
def user_edit(name: str):
    current = admin_ops.user(current_engine(), name)
    form = _with_choices(UserEditForm(data=current))

    def save() -> str:
        details = _details(form, form.active.data)
        changes = admin_ops.update_user(current_engine(), g.actor, name, details)
        if not changes:
            return "没有修改"
        if "active" in changes and not details.active and current["open_items"]:
            return f"用户已停用；其名下仍有 {current['open_items']} 项待办，请到任务页转交给同事"
        return f"用户「{name}」已保存"

    return _submit(form, save, url_for("admin.users"),
                   lambda: _user_page(current, form, PasswordResetForm(formdata=None)))


@bp.post("/users/<name>/password")
def user_password(name: str):
    current = admin_ops.user(current_engine(), name)
    form = PasswordResetForm()

    def save() -> str:
        admin_ops.reset_password(current_engine(), g.actor, name, form.password.data)
        return f"已为「{name}」设置新密码，其已登录的会话已失效"

    edit = _with_choices(UserEditForm(formdata=None, data=current))
    return _submit(form, save, url_for("admin.user_edit", name=name), lambda: _user_page(current, edit, form))


def _user_page(current: dict, form: UserEditForm, reset: PasswordResetForm) -> str:
    return render_template("admin/user_edit.html", user=current, form=form, reset=reset,
                           is_self=current["name"] == g.actor.name)


def _with_choices(form: UserDetailsForm) -> UserDetailsForm:
    engine = current_engine()
    form.department.choices = {"": "（无）", **engine.staff.departments()}
    form.roles.choices = {role["name"]: role["label"] for role in admin_ops.roles(engine)}
    return form


def _details(form: UserDetailsForm, active: bool = True) -> UserDetails:
    return UserDetails(form.display_name.data or "", form.department.data or None,
                       frozenset(form.roles.data or ()), active)


# ---- roles -------------------------------------------------------------------------------------------


@bp.route("/roles", methods=["GET", "POST"])
def roles():
    form = RoleForm()

    def save() -> str:
        admin_ops.save_role(current_engine(), g.actor, form.name.data, form.label.data, create=True,
                            notify_on_arrival=form.notify_on_arrival.data)
        return f"角色「{form.label.data.strip()}」已添加，流程图的候选组可使用 {form.name.data.strip()}"

    return _submit(form, save, url_for("admin.roles"),
                   lambda: render_template("admin/roles.html", roles=admin_ops.roles(current_engine()), form=form))


@bp.route("/roles/<name>", methods=["GET", "POST"])
def role_edit(name: str):
    role = next((r for r in admin_ops.roles(current_engine()) if r["name"] == name), None)
    if role is None:
        raise NotFound(f"角色不存在：{name}")
    form = RoleLabelForm(data=role)

    def save() -> str:
        admin_ops.save_role(current_engine(), g.actor, name, form.label.data, create=False,
                            notify_on_arrival=form.notify_on_arrival.data)
        return f"角色「{form.label.data.strip()}」已保存"

    return _submit(form, save, url_for("admin.roles"),
                   lambda: render_template("admin/role_edit.html", role=role, form=form))


# ---- working-day calendar ----------------------------------------------------------------------------


@bp.route("/calendar", methods=["GET", "POST"])
def calendar():
    year = request.args.get("year", type=int) or _this_year()
    if not 2000 <= year <= 2100:
        abort(404)
    form = CalendarDayForm()

    def save() -> str:
        admin_ops.save_calendar_day(current_engine(), g.actor, form.day.data, form.workday.data == "1",
                                    form.note.data or "", create=True)
        return f"{form.day.data} 已保存，期限计算即时生效"

    target = url_for("admin.calendar", year=form.day.data.year if form.day.data else year)
    return _submit(form, save, target, lambda: _calendar_page(year, form, CalendarImportForm(formdata=None)))


@bp.post("/calendar/import")
def calendar_import():
    form = CalendarImportForm()
    year = request.args.get("year", type=int) or _this_year()

    def save() -> str:
        upload = form.file.data
        count = admin_ops.import_schedule(current_engine(), g.actor, upload.filename, upload.read())
        return f"已导入 {count} 天的放假调休安排，期限计算即时生效"

    return _submit(form, save, url_for("admin.calendar", year=year),
                   lambda: _calendar_page(year, CalendarDayForm(formdata=None), form))


@bp.route("/calendar/<day>", methods=["GET", "POST"])
def calendar_edit(day: str):
    parsed = _parse_day(day)
    row = admin_ops.calendar_day(current_engine(), parsed)
    # the date is the row's identity, so it is not a field here: another date is a new row
    form = CalendarDayEditForm(data={"note": row["note"], "workday": "1" if row["workday"] else "0"})

    def save() -> str:
        admin_ops.save_calendar_day(current_engine(), g.actor, parsed, form.workday.data == "1",
                                    form.note.data or "", create=False)
        return f"{day} 已保存，期限计算即时生效"

    return _submit(form, save, url_for("admin.calendar", year=parsed.year),
                   lambda: render_template("admin/calendar_day.html", form=form, day=day))


@bp.post("/calendar/<day>/delete")
def calendar_delete(day: str):
    parsed = _parse_day(day)
    admin_ops.delete_calendar_day(current_engine(), g.actor, parsed)
    flash(f"{day} 已删除，该日恢复按内置日历计算", "info")
    return redirect(url_for("admin.calendar", year=parsed.year))


def _calendar_page(year: int, form: CalendarDayForm, upload: CalendarImportForm) -> str:
    engine = current_engine()
    rows = [{**row, "weekday": "周" + WEEKDAYS[date.fromisoformat(row["day"]).weekday()]}
            for row in admin_ops.calendar_days(engine, year)]
    this_year = _this_year()
    years = sorted({*admin_ops.calendar_years(engine), this_year, this_year + 1, year})
    return render_template("admin/calendar.html", year=year, years=years, rows=rows, form=form, upload=upload,
                           covered=engine.calendar().covers(year), warning=engine.calendar_warning())


def _this_year() -> int:
    return current_engine().now().astimezone(SHANGHAI).year


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(404)
