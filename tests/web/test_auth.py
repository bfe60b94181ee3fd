"""Signing in and out, sessions that end, login throttling, CSRF refusals, cookie flags, password change."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from support import DEMO_PASSWORD, csrf_token, login, post

from engine.store.models import Case, Department
from web import create_app
from web.errors import CSRF_MESSAGE

THROTTLED = "登录失败次数过多，请稍后再试"


def _signed_in(client) -> bool:
    return client.get("/tasks/").status_code == 200


# ---- login, logout, redirects ---------------------------------------------------------------------------


def test_login_succeeds_with_the_right_password(client):
    response = login(client, "xf_wang")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert "王晓燕" in client.get("/tasks/").get_data(as_text=True)


@pytest.mark.parametrize(("name", "password"), [("xf_wang", "wrong-password"), ("nobody", DEMO_PASSWORD)])
def test_login_fails_without_saying_which_part_was_wrong(client, name, password):
    response = login(client, name, password)
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert not _signed_in(client)


def test_logout_is_a_post_and_ends_the_session(client):
    login(client, "xf_wang")
    assert client.get("/logout").status_code == 405  # a link or an image tag cannot sign anyone out
    assert _signed_in(client)
    response = post(client, "/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert not _signed_in(client)


def test_pages_redirect_to_login_and_back(client):
    response = client.get("/tasks/?view=overdue")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    token = csrf_token(client)
    response = client.post("/login?next=/tasks/?view%3Doverdue",
                           data={"username": "xf_wang", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.headers["Location"] == "/tasks/?view=overdue"


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example/", "/\t/evil.example/", "javascript:alert(1)",
])
def test_next_never_leads_to_another_site(client, target):
    token = csrf_token(client)
    response = client.post("/login", query_string={"next": target},
                           data={"username": "xf_wang", "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_a_deactivated_user_cannot_log_in(client, engine):
    _set_active(engine, "xf_wang", False)
    assert login(client, "xf_wang").status_code == 401


def test_a_session_ends_when_the_password_is_changed_elsewhere(app, client):
    login(client, "xf_wang")
    elsewhere = app.test_client()
    login(elsewhere, "xf_wang")
    response = post(elsewhere, "/password", {"current": DEMO_PASSWORD, "new": "a-new-password", "confirm":
                                             "a-new-password"}, token_from="/password")
    assert response.status_code == 302
    assert _signed_in(elsewhere)  # the session that changed it carries the new stamp
    assert not _signed_in(client)


def test_a_session_ends_when_the_user_is_deactivated(client, engine):
    login(client, "xf_wang")
    assert _signed_in(client)
    _set_active(engine, "xf_wang", False)
    assert not _signed_in(client)


def _set_active(engine, name: str, active: bool) -> None:
    from engine.store.models import User

    with engine.db.write() as session:
        session.get(User, name).active = active


# ---- throttling -----------------------------------------------------------------------------------------


def test_five_failures_block_the_name_from_that_address_only(app, client):
    for _ in range(5):
        assert login(client, "xf_wang", "wrong-password").status_code == 401
    response = login(client, "xf_wang")
    assert response.status_code == 429
    assert THROTTLED in response.get_data(as_text=True)
    assert login(client, "XF_WANG", "wrong-password").status_code == 429  # the name's case does not matter
    assert login(client, "xf_chen").status_code == 302  # other names are not blocked
    # Whoever guesses from one address cannot lock the user out: from the user's own address it works.
    victim = app.test_client()
    victim.environ_base["REMOTE_ADDR"] = "10.0.0.7"
    assert login(victim, "xf_wang").status_code == 302


def test_the_wait_grows_with_the_failures(client, monkeypatch):
    # Flask-Limiter counts on the system clock, not the engine's: move that one.
    now = [time.time()]
    monkeypatch.setattr(time, "time", lambda: now[0])
    for _ in range(5):
        login(client, "xf_wang", "wrong-password")
    assert login(client, "xf_wang").status_code == 429
    now[0] += 61  # after five failures a minute's wait
    for _ in range(5):
        assert login(client, "xf_wang", "wrong-password").status_code == 401
    now[0] += 61
    assert login(client, "xf_wang").status_code == 429  # after ten, the wait is the hour
    now[0] += 3600
    assert login(client, "xf_wang").status_code == 302


def test_successful_logins_do_not_count(client):
    for _ in range(4):
        login(client, "xf_wang", "wrong-password")
    for _ in range(3):
        assert login(client, "xf_wang").status_code == 302
        post(client, "/logout")
    assert login(client, "xf_wang", "wrong-password").status_code == 401  # the fifth failure
    assert login(client, "xf_wang").status_code == 429


def test_each_app_counts_its_own_failures(app, engine):
    for _ in range(5):
        login(app.test_client(), "xf_wang", "wrong-password")
    other = create_app({"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}, engine=engine)
    assert login(other.test_client(), "xf_wang").status_code == 302
    assert login(app.test_client(), "xf_wang").status_code == 429  # the first app did not forget


# ---- CSRF -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_logout_without_a_valid_token_is_refused(client, token):
    login(client, "xf_wang")
    response = client.post("/logout", data={} if token is None else {"csrf_token": token})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert _signed_in(client)


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_claim_without_a_valid_token_is_refused(client, engine, token):
    case_id = engine.start_case("petition", {}, engine.actor("xf_chen"))
    task_id = engine.work_items(case_id)[0]["task_id"]
    login(client, "xf_wang")
    response = client.post(f"/tasks/{task_id}/claim", data={} if token is None else {"csrf_token": token})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    assert engine.work_items(case_id)[0]["assignee"] is None
    assert post(client, f"/tasks/{task_id}/claim").status_code == 302  # with the token it works
    assert engine.work_items(case_id)[0]["assignee"] == "xf_wang"


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_intake_without_a_valid_token_is_refused(client, engine, token):
    login(client, "xf_wang")
    data = {"channel": "letter", "summary": "反映某村干部问题"}
    response = client.post("/intake/new", data=data if token is None else {**data, "csrf_token": token})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    with engine.db.read() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


@pytest.mark.parametrize("token", [None, "not-the-token"])
def test_admin_form_without_a_valid_token_is_refused(client, engine, token):
    login(client, "admin")
    data = {"code": "supervision_3", "name": "第三监督检查室", "kind": "handling"}
    response = client.post("/admin/departments/new", data=data if token is None else {**data, "csrf_token": token})
    assert response.status_code == 400
    assert CSRF_MESSAGE in response.get_data(as_text=True)
    with engine.db.read() as session:
        assert session.get(Department, "supervision_3") is None


# ---- session cookie -------------------------------------------------------------------------------------


def test_session_cookie_is_secure_httponly_and_lax_by_default(engine, monkeypatch):
    monkeypatch.delenv("XINFANG_SECURE_COOKIES", raising=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "test"}, engine=engine)  # cookie settings left alone
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    flags = [part.strip() for part in cookie.split(";")]
    assert "Secure" in flags
    assert "HttpOnly" in flags
    assert "SameSite=Lax" in flags


# ---- changing one's password ----------------------------------------------------------------------------


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("wrong-password", "a-new-password", "a-new-password", "当前密码不正确"),
    (DEMO_PASSWORD, "a-new-password", "another-password", "两次输入的新密码不一致"),
    (DEMO_PASSWORD, "short", "short", "新密码至少 12 位"),
    (DEMO_PASSWORD, "password1234", "password1234", "该密码过于常见或过于简单"),
    (DEMO_PASSWORD, "xf_wang-secret-9", "xf_wang-secret-9", "密码不能包含用户名"),
])
def test_password_change_refusals(client, current, new, confirm, message):
    login(client, "xf_wang")
    response = post(client, "/password", {"current": current, "new": new, "confirm": confirm},
                    token_from="/password")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    post(client, "/logout")
    assert login(client, "xf_wang").status_code == 302  # the old password still works


def test_password_change_then_only_the_new_password_works(client):
    login(client, "xf_wang")
    response = post(client, "/password", {"current": DEMO_PASSWORD, "new": "a-new-password",
                                          "confirm": "a-new-password"}, token_from="/password")
    assert response.status_code == 302
    post(client, "/logout")
    assert login(client, "xf_wang").status_code == 401
    assert login(client, "xf_wang", "a-new-password").status_code == 302
