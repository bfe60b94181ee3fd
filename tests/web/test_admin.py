"""The administration pages: who may use them, users, departments, roles, the working-day calendar, and the
audit events every change leaves."""

from __future__ import annotations

import io
import json
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from support import login, post

from engine.store.models import CalendarDay, Department, Event, User
from engine.timing.calendar import SHANGHAI

NEW_PASSWORD = "initial-pass-1"


@pytest.fixture
def admin(client):
    assert login(client, "admin").status_code == 302
    return client


def _text(response) -> str:
    return response.get_data(as_text=True)


def _events(engine, kind: str) -> list[dict]:
    with engine.db.read() as session:
        return [json.loads(e.payload) for e in session.scalars(sa.select(Event).where(Event.kind == kind)
                                                                .order_by(Event.id))]


def _new_user(admin, **changes):
    data = {"name": "xf_zhou", "display_name": "周敏（信访室）", "department": "petition_office",
            "roles": ["petition_staff"], "password": NEW_PASSWORD, **changes}
    return post(admin, "/admin/users/new", data)


# ---- access ---------------------------------------------------------------------------------------------


def _admin_paths(app) -> list[tuple[str, str]]:
    """Every admin route with sample arguments, so a page added later is checked too."""
    samples = {"code": "petition_office", "name": "xf_wang", "day": "2026-05-01"}
    paths = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("admin."):
                names = {**samples, "name": "auditor"} if rule.endpoint == "admin.role_edit" else samples
                path = url_for(rule.endpoint, **{arg: names[arg] for arg in rule.arguments})
                paths.extend((method, path) for method in sorted(rule.methods & {"GET", "POST"}))
    return paths


def test_every_admin_page_is_forbidden_to_non_admins(app, client, engine):
    login(client, "xf_chen")  # petition office head: many roles, not admin
    paths = _admin_paths(app)
    assert len(paths) >= 15
    for method, path in paths:
        response = client.get(path) if method == "GET" else post(client, path, {"password": NEW_PASSWORD})
        assert response.status_code == 403, (method, path)
    assert _events(engine, "password reset") == []
    assert "系统管理" not in _text(client.get("/tasks/"))


def test_admin_pages_need_a_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_every_admin_page_opens_for_an_admin(app, admin):
    for method, path in _admin_paths(app):
        if method == "GET" and "2026-05-01" not in path:
            assert admin.get(path).status_code == 200, path


# ---- users ----------------------------------------------------------------------------------------------


def test_created_user_logs_in_and_sees_the_queue(app, admin, engine):
    response = _new_user(admin, roles=["petition_staff", "petition_head"])
    assert response.status_code == 302
    listing = _text(admin.get("/admin/users"))
    assert "xf_zhou" in listing and "周敏（信访室）" in listing and "信访室主任" in listing
    assert engine.actor("xf_zhou").roles == {"petition_staff", "petition_head"}
    newcomer = app.test_client()
    # the administrator knows the password, so the newcomer replaces it first
    assert login(newcomer, "xf_zhou", NEW_PASSWORD).headers["Location"] == "/password"
    chosen = "zhou-min-eigenes-1"
    assert post(newcomer, "/password", {"current": NEW_PASSWORD, "new": chosen, "confirm": chosen},
                token_from="/password").status_code == 302
    queue = _text(newcomer.get("/tasks/"))
    assert "我的待办" in queue and 'href="/intake/new"' in queue  # the intake link of petition staff
    created = _events(engine, "user created")
    assert created == [{"user": "xf_zhou", "display_name": "周敏（信访室）", "department": "petition_office",
                        "roles": ["petition_head", "petition_staff"], "active": True}]


def test_edited_roles_and_department_apply_at_once(app, admin, engine):
    _new_user(admin)
    newcomer = app.test_client()
    login(newcomer, "xf_zhou", NEW_PASSWORD)
    response = post(admin, "/admin/users/xf_zhou", {"display_name": "周敏", "department": "supervision_1",
                                                   "roles": ["handling_staff"], "active": "y"})
    assert response.status_code == 302
    actor = engine.actor("xf_zhou")
    assert (actor.display_name, actor.department, actor.roles) == ("周敏", "supervision_1", {"handling_staff"})
    assert 'href="/intake/new"' not in _text(newcomer.get("/tasks/"))  # the open session sees the new roles
    changes = _events(engine, "user updated")[-1]["changes"]
    assert changes["roles"] == [["petition_staff"], ["handling_staff"]]
    assert changes["department"] == ["petition_office", "supervision_1"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": "xf_wang"}, "用户名「xf_wang」已存在"),
    ({"name": "周敏"}, "用户名只能用英文字母"),
    ({"department": "no_such_office"}, "部门不存在：no_such_office"),
    ({"roles": ["petition_staff", "no_such_role"]}, "角色不存在：no_such_role"),
    ({"password": "short"}, "密码至少需要 12 位"),
    ({"display_name": ""}, "请填写姓名"),
])
def test_bad_user_input_is_explained_and_kept(admin, engine, changes, message):
    response = _new_user(admin, **{"display_name": "周敏（新同事）", **changes})
    assert response.status_code == 422
    page = _text(response)
    assert message in page
    if "name" not in changes:
        assert 'value="xf_zhou"' in page  # what was typed stays
    with engine.db.read() as session:
        assert session.get(User, "xf_zhou") is None
        assert session.scalar(sa.select(User.display_name).where(User.name == "xf_wang")) == "王晓燕（信访室）"
    assert _events(engine, "user created") == []


def test_deactivated_user_cannot_log_in_and_loses_the_session(app, admin, engine):
    victim = app.test_client()
    login(victim, "xf_wang")
    response = post(admin, "/admin/users/xf_wang", {"display_name": "王晓燕（信访室）", "department":
                                                   "petition_office", "roles": ["petition_staff"]})
    assert response.status_code == 302
    assert victim.get("/tasks/").status_code == 302
    assert login(app.test_client(), "xf_wang").status_code == 401
    with engine.db.read() as session:
        assert session.get(User, "xf_wang").active is False  # kept, never deleted
    assert "已停用" in _text(admin.get("/admin/users"))
    assert _events(engine, "user updated")[-1] == {"user": "xf_wang", "changes": {"active": [True, False]}}


@pytest.mark.parametrize(("data", "message"), [
    ({"roles": ["admin"]}, "不能停用自己的账号"),
    ({"roles": ["auditor"], "active": "y"}, "不能取消自己的系统管理员角色"),
])
def test_an_admin_cannot_lock_themselves_out(admin, engine, data, message):
    response = post(admin, "/admin/users/admin", {"display_name": "系统管理员", **data})
    assert response.status_code == 422
    assert message in _text(response)
    actor = engine.actor("admin")
    assert "admin" in actor.roles
    assert admin.get("/admin/").status_code == 200


def test_reset_password_ends_sessions_and_replaces_the_password(app, admin, engine):
    victim = app.test_client()
    login(victim, "xf_wang")
    assert post(admin, "/admin/users/xf_wang/password", {"password": "short"}).status_code == 422
    assert victim.get("/tasks/").status_code == 200  # a refused reset changes nothing
    response = post(admin, "/admin/users/xf_wang/password", {"password": NEW_PASSWORD})
    assert response.status_code == 302
    assert victim.get("/tasks/").status_code == 302
    assert login(app.test_client(), "xf_wang").status_code == 401
    assert login(app.test_client(), "xf_wang", NEW_PASSWORD).status_code == 302
    assert _events(engine, "password reset") == [{"user": "xf_wang"}]


# ---- departments ----------------------------------------------------------------------------------------


def test_department_create_and_edit_keep_the_code(admin, engine):
    response = post(admin, "/admin/departments/new", {"code": "supervision_3", "name": "第三监督检查室",
                                                       "kind": "handling"})
    assert response.status_code == 302
    assert "第三监督检查室" in _text(admin.get("/admin/departments"))
    response = post(admin, "/admin/departments/supervision_3", {"code": "hijacked", "name": "第三监督检查室（新）",
                                                                "kind": "review"})
    assert response.status_code == 302
    with engine.db.read() as session:
        row = session.get(Department, "supervision_3")
        assert (row.name, row.kind) == ("第三监督检查室（新）", "review")
        assert session.get(Department, "hijacked") is None
    saved = _events(engine, "department saved")
    assert [e["previous"] for e in saved] == [None, {"name": "第三监督检查室", "kind": "handling"}]


@pytest.mark.parametrize(("data", "message"), [
    ({"code": "supervision_1", "name": "又一个室"}, "部门代码「supervision_1」已存在"),
    ({"code": "supervision_3", "name": "第一监督检查室"}, "部门名称「第一监督检查室」已被部门 supervision_1 使用"),
    ({"code": "Supervision 3", "name": "第三室"}, "部门代码只能用小写英文字母"),
])
def test_bad_department_input_is_explained(admin, engine, data, message):
    response = post(admin, "/admin/departments/new", data)
    assert response.status_code == 422
    assert message in _text(response)
    assert f'value="{data["name"]}"' in _text(response)
    with engine.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Department)) == 8
    assert _events(engine, "department saved") == []


# ---- roles ----------------------------------------------------------------------------------------------


def test_added_role_is_routable_at_once_and_assignable(admin, engine):
    assert "inspection_office" not in engine.roles()  # primes the engine's role cache
    response = post(admin, "/admin/roles", {"name": "inspection_office", "label": "巡察办"})
    assert response.status_code == 302
    assert engine.roles()["inspection_office"] == "巡察办"
    assert "巡察办" in _text(admin.get("/admin/roles"))
    assert post(admin, "/admin/roles/inspection_office", {"label": "巡察工作办公室"}).status_code == 302
    assert engine.roles()["inspection_office"] == "巡察工作办公室"
    assert _new_user(admin, roles=["inspection_office"]).status_code == 302
    assert engine.actor("xf_zhou").roles == {"inspection_office"}
    assert [e["label"] for e in _events(engine, "role saved")] == ["巡察办", "巡察工作办公室"]


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "auditor", "label": "另一个审计员"}, "角色标识「auditor」已存在"),
    ({"name": "inspection_office", "label": "审计员"}, "角色名称「审计员」已被角色 auditor 使用"),
    ({"name": "inspection-office", "label": "巡察办"}, "角色标识只能用小写英文字母"),
])
def test_bad_role_input_is_explained(admin, engine, data, message):
    response = post(admin, "/admin/roles", data)
    assert response.status_code == 422
    assert message in _text(response)
    assert "inspection_office" not in engine.roles(max_age=0)
    assert _events(engine, "role saved") == []


# ---- working-day calendar -------------------------------------------------------------------------------


def test_calendar_rows_change_working_days_at_once(admin, engine):
    saturday = date(2026, 3, 7)
    assert not engine.calendar().is_workday(saturday)  # primes the engine's calendar cache
    response = post(admin, "/admin/calendar", {"day": "2026-03-07", "workday": "1", "note": "调休上班"})
    assert response.status_code == 302
    assert engine.calendar().is_workday(saturday)
    assert "调休上班" in _text(admin.get("/admin/calendar?year=2026"))
    assert post(admin, "/admin/calendar/2026-03-07", {"workday": "0", "note": "改为休息"}).status_code == 302
    assert not engine.calendar().is_workday(saturday)
    assert post(admin, "/admin/calendar/2026-03-07", {"workday": "1", "note": "调休上班"}).status_code == 302
    assert engine.calendar().is_workday(saturday)
    assert post(admin, "/admin/calendar/2026-03-07/delete").status_code == 302
    assert not engine.calendar().is_workday(saturday)
    assert admin.get("/admin/calendar/2026-03-07").status_code == 404
    assert [e["workday"] for e in _events(engine, "calendar day saved")] == [True, False, True]
    assert _events(engine, "calendar day deleted") == [{"day": "2026-03-07", "workday": True, "note": "调休上班"}]


@pytest.mark.parametrize(("data", "message"), [
    ({"day": "2026-02-30", "workday": "0"}, "日期无效，应为 YYYY-MM-DD 格式"),
    ({"day": "", "workday": "0"}, "请填写日期"),
    ({"day": "2026-05-01", "workday": ""}, "请选择上班或休息"),
])
def test_bad_calendar_rows_are_explained(admin, engine, data, message):
    response = post(admin, "/admin/calendar", {**data, "note": "劳动节"})
    assert response.status_code == 422
    page = _text(response)
    assert message in page
    assert 'value="劳动节"' in page
    with engine.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(CalendarDay)) == 0


def test_a_date_already_in_the_table_is_not_added_twice(admin):
    post(admin, "/admin/calendar", {"day": "2026-05-01", "workday": "0", "note": "劳动节"})
    response = post(admin, "/admin/calendar", {"day": "2026-05-01", "workday": "1", "note": "重复"})
    assert response.status_code == 422
    assert "2026-05-01 已有记录" in _text(response)


SCHEDULE_2027 = "date,workday,note\n2027-01-01,0,元旦\n2027-02-06,1,春节调休上班\n2027-02-08,0,春节\n"


def _upload(admin, content: str, filename: str):
    return post(admin, "/admin/calendar/import?year=2027",
                {"file": (io.BytesIO(("\ufeff" + content).encode()), filename)}, content_type="multipart/form-data")


def test_importing_a_2027_schedule(admin, engine):
    assert not engine.calendar().covers(2027)
    response = _upload(admin, SCHEDULE_2027, "2027.csv")
    assert response.status_code == 302
    calendar = engine.calendar()
    assert calendar.covers(2027)
    assert not calendar.is_workday(date(2027, 1, 1))
    assert calendar.is_workday(date(2027, 2, 6))  # a Saturday worked in exchange
    assert calendar.is_workday(date(2027, 3, 1))  # an ordinary Monday of an imported year
    page = _text(admin.get("/admin/calendar?year=2027"))
    assert "春节调休上班" in page and "共有 3 条" in page
    imported = _events(engine, "calendar imported")
    assert imported == [{"file": "2027.csv", "days": [
        ["2027-01-01", False, "元旦"], ["2027-02-06", True, "春节调休上班"], ["2027-02-08", False, "春节"]]}]


@pytest.mark.parametrize(("content", "filename", "message"), [
    ("day,kind\n2027-01-01,0\n", "2027.csv", "表头应为 date,workday,note"),
    (SCHEDULE_2027 + "2027-13-01,0,坏日期\n", "2027.csv", "日期「2027-13-01」无效"),
    (SCHEDULE_2027, "2027.txt", "只接受 .csv 或 .json 文件"),
    ('[{"date": "2027-01-01", "workday": "maybe"}]', "2027.json", "workday「maybe」无效"),
])
def test_a_bad_schedule_file_imports_nothing(admin, engine, content, filename, message):
    response = _upload(admin, content, filename)
    assert response.status_code == 422
    assert message in _text(response)
    assert not engine.calendar().covers(2027)
    assert _events(engine, "calendar imported") == []


def test_missing_next_year_is_warned_from_november(admin, clock):
    warning = "尚未导入 2027 年的节假日安排"
    assert warning not in _text(admin.get("/admin/"))  # March: too early to expect next year's schedule
    clock.set(datetime(2026, 11, 1, 8, 0, tzinfo=SHANGHAI))
    login(admin, "admin")  # months later: the session has long timed out
    assert warning in _text(admin.get("/admin/"))
    assert warning in _text(admin.get("/admin/calendar"))
    _upload(admin, SCHEDULE_2027, "2027.csv")
    assert warning not in _text(admin.get("/admin/"))


# ---- the audit trail ------------------------------------------------------------------------------------


def test_changes_are_audited_without_passwords_and_the_chain_holds(admin, engine):
    _new_user(admin)
    post(admin, "/admin/users/xf_zhou/password", {"password": "another-password-2"})
    post(admin, "/admin/roles", {"name": "inspection_office", "label": "巡察办"})
    with engine.db.read() as session:
        rows = session.scalars(sa.select(Event).where(Event.actor == "admin")).all()
    assert [e.kind for e in rows] == ["user created", "password reset", "role saved"]
    assert not any(NEW_PASSWORD in e.payload or "another-password-2" in e.payload for e in rows)
    assert engine.verify_audit().ok
    page = _text(admin.get("/admin/"))
    assert "新建用户" in page and "重置密码" in page and "xf_zhou" in page
