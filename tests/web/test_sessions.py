"""Sessions that cannot be forged or outlive their end: the generated secret key, server-side sessions
(logout, log out everywhere, password change, deactivation), idle and absolute timeouts on the engine's
clock, the forced change of initial passwords, and the small limits before sign-in."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
import sqlalchemy as sa
from alembic import command
from chain import ORGANISATION
from flask import Flask
from support import DEMO_PASSWORD, login, post

from engine.api import UserDetails, administration, load_organisation
from engine.store import schema
from engine.store.models import LoginSession, User
from web import create_app

NEW_PASSWORD = "ein-langes-passwort-7"


def _signed_in(client) -> bool:
    return client.get("/tasks/").status_code == 200


def _copy(client, app):
    """Another browser holding a copy of `client`'s session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _cookie(secret_key: str, value: dict) -> str:
    signer = Flask("forger")
    signer.secret_key = secret_key
    return signer.session_interface.get_signing_serializer(signer).dumps(value)


# ---- the secret key -------------------------------------------------------------------------------------


def _keyless_app(engine, tmp_path, monkeypatch, **kwargs):
    monkeypatch.delenv("XINFANG_SECRET_KEY", raising=False)
    monkeypatch.delenv("XINFANG_ENV", raising=False)
    return create_app({"TESTING": True, "SESSION_COOKIE_SECURE": False}, engine=engine,
                      instance_path=str(tmp_path / "instance"), **kwargs)


def test_without_a_key_one_is_generated_private_and_kept(engine, tmp_path, monkeypatch):
    first = _keyless_app(engine, tmp_path, monkeypatch)
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert len(first.secret_key) >= 64 and first.secret_key != "dev-only-change-me"
    second = _keyless_app(engine, tmp_path, monkeypatch)
    assert second.secret_key == first.secret_key  # sessions survive a restart
    client = first.test_client()
    login(client, "xf_wang")
    assert _signed_in(_copy(client, second))


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_production_refuses_to_start_without_an_explicit_key(engine, tmp_path, monkeypatch, how):
    if how == "environment":
        monkeypatch.setenv("XINFANG_ENV", "production")
        monkeypatch.delenv("XINFANG_SECRET_KEY", raising=False)
        start = lambda: create_app({"TESTING": True}, engine=engine, instance_path=str(tmp_path))  # noqa: E731
    else:
        start = lambda: _keyless_app(engine, tmp_path, monkeypatch, production=True)  # noqa: E731
    with pytest.raises(RuntimeError, match="XINFANG_SECRET_KEY"):
        start()
    assert not (tmp_path / "secret_key").exists() and not (tmp_path / "instance" / "secret_key").exists()
    monkeypatch.setenv("XINFANG_SECRET_KEY", "an-explicit-production-key")
    assert create_app(engine=engine, production=True, instance_path=str(tmp_path)).secret_key == \
        "an-explicit-production-key"


def test_a_cookie_signed_with_the_old_fallback_key_is_refused(engine, tmp_path, monkeypatch):
    app = _keyless_app(engine, tmp_path, monkeypatch)
    with engine.db.read() as session:
        password_hash = session.get(User, "admin").password_hash
    old_stamp = hashlib.sha256(password_hash.encode()).hexdigest()[:16]  # what the cookie used to carry
    client = app.test_client()
    client.set_cookie("session", _cookie("dev-only-change-me", {"user": "admin", "stamp": old_stamp}))
    assert client.get("/admin/").status_code == 302


@pytest.mark.parametrize("value", [
    {"user": "admin", "stamp": "0" * 16},
    {"sid": "guessed-session-id"},
    {"sid": ["not", "a", "string"]},
])
def test_a_correctly_signed_cookie_with_a_guessed_session_is_refused(app, value):
    client = app.test_client()
    client.set_cookie("session", _cookie(app.secret_key, value))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_the_database_holds_no_live_session_id(app, engine):
    client = app.test_client()
    login(client, "xf_wang")
    with engine.db.read() as session:
        stored = session.scalars(sa.select(LoginSession.id_hash)).all()
    session_id = app.session_interface.get_signing_serializer(app).loads(client.get_cookie("session").value)["sid"]
    assert len(stored) == 1 and stored[0] != session_id  # only its hash: a copy of the database signs no one in
    assert stored[0] == hashlib.sha256(session_id.encode()).hexdigest()


# ---- ending sessions ------------------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_is_refused_after_it(app):
    client = app.test_client()
    login(client, "xf_wang")
    copy = _copy(client, app)
    assert _signed_in(copy)
    post(client, "/logout")
    assert not _signed_in(copy)


def test_logout_ends_only_that_session(app):
    office, home = app.test_client(), app.test_client()
    login(office, "xf_wang")
    login(home, "xf_wang")
    post(office, "/logout")
    assert _signed_in(home)


def test_password_change_ends_every_other_session_and_copies_of_this_one(app):
    client, elsewhere = app.test_client(), app.test_client()
    login(client, "xf_wang")
    login(elsewhere, "xf_wang")
    copy = _copy(client, app)
    response = post(client, "/password", {"current": DEMO_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                    token_from="/password")
    assert response.status_code == 302
    assert _signed_in(client)
    assert not _signed_in(elsewhere)
    assert not _signed_in(copy)  # the changing browser got a new session; its old cookie is dead


def test_log_out_everywhere(app):
    client, elsewhere = app.test_client(), app.test_client()
    login(client, "xf_wang")
    login(elsewhere, "xf_wang")
    response = post(client, "/logout/everywhere", token_from="/password")
    assert response.headers["Location"] == "/login"
    assert not _signed_in(client)
    assert not _signed_in(elsewhere)
    assert login(app.test_client(), "xf_wang").status_code == 302  # the password still works


def test_a_reactivated_user_does_not_get_old_sessions_back(app, engine):
    client = app.test_client()
    login(client, "xf_wang")
    for active in (False, True):
        administration.update_user(engine, engine.actor("admin"), "xf_wang", UserDetails(
            "王晓燕", "petition_office", frozenset({"petition_staff"}), active))
    assert not _signed_in(client)
    assert login(app.test_client(), "xf_wang").status_code == 302


def test_deactivation_by_the_organisation_file_ends_sessions_for_good(app, engine, tmp_path):
    client = app.test_client()
    login(client, "xf_wang")
    for active in ("false", "true"):
        path = tmp_path / f"org-{active}.toml"
        path.write_text(f"""[[users]]
name = "xf_wang"
display_name = "王晓燕（信访室）"
department = "petition_office"
roles = ["petition_staff"]
active = {active}
""", encoding="utf-8")
        with engine.db.write() as session:
            load_organisation(session, path)
    assert not _signed_in(client)


def test_an_admin_password_reset_ends_the_users_sessions(app, engine):
    client = app.test_client()
    login(client, "xf_wang")
    administration.reset_password(engine, engine.actor("admin"), "xf_wang", NEW_PASSWORD)
    assert not _signed_in(client)


# ---- timeouts on the engine's clock ---------------------------------------------------------------------


def test_an_idle_session_ends_after_thirty_minutes(client, clock):
    login(client, "xf_wang")
    clock.advance(minutes=29)
    assert _signed_in(client)  # use keeps it alive
    clock.advance(minutes=29)
    assert _signed_in(client)
    clock.advance(minutes=31)
    response = client.get("/tasks/")
    assert response.status_code == 302
    assert "登录已失效或超时" in client.get("/login").get_data(as_text=True)


def test_a_session_ends_after_ten_hours_however_busy(client, clock):
    login(client, "xf_wang")
    for _ in range(35):
        clock.advance(minutes=17)
        assert _signed_in(client)
    clock.advance(minutes=17)  # 10 h 12 min after signing in
    assert not _signed_in(client)


def test_dead_sessions_do_not_pile_up(app, engine, clock):
    for name in ("xf_wang", "xf_chen", "xf_wang"):
        login(app.test_client(), name)
    clock.advance(hours=11)
    login(app.test_client(), "s1_liu")  # any login clears what is past the absolute limit
    with engine.db.read() as session:
        assert session.scalars(sa.select(LoginSession.user_name)).all() == ["s1_liu"]


# ---- initial passwords ----------------------------------------------------------------------------------


def test_an_initial_password_must_be_changed_before_anything_else(app, engine):
    with engine.db.write() as session:  # the demo organisation as `make run` loads it, on a fresh database
        session.execute(sa.delete(User).where(User.name == "xf_chen"))
        load_organisation(session, ORGANISATION)
    client = app.test_client()
    response = login(client, "xf_chen")
    assert response.headers["Location"] == "/password"
    for path in ("/tasks/", "/", "/search/", "/intake/new"):
        assert client.get(path).headers["Location"] == "/password", path
    assert "请先修改初始密码" in client.get("/password").get_data(as_text=True)
    refused = post(client, "/password", {"current": DEMO_PASSWORD, "new": DEMO_PASSWORD, "confirm": DEMO_PASSWORD},
                   token_from="/password")
    assert refused.status_code == 400
    response = post(client, "/password", {"current": DEMO_PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                    token_from="/password")
    assert response.status_code == 302
    assert _signed_in(client)


def test_a_user_created_by_the_administrator_changes_the_password_first(app, engine):
    administration.create_user(engine, engine.actor("admin"), "xf_zhou",
                               UserDetails("周敏", "petition_office", frozenset({"petition_staff"})), NEW_PASSWORD)
    client = app.test_client()
    assert login(client, "xf_zhou", NEW_PASSWORD).headers["Location"] == "/password"
    assert client.get("/tasks/").headers["Location"] == "/password"


# ---- before sign-in ---------------------------------------------------------------------------------------


def test_anonymous_requests_are_small(client):
    many = {f"field{index}": "x" for index in range(20)}
    assert client.post("/login", data={"username": "a", "password": "b", **many}).status_code == 413
    big = {"username": "a", "password": "x" * 10_000}
    assert client.post("/login", data=big).status_code == 413
    assert client.post("/login", data=big, content_type="multipart/form-data").status_code == 413


# ---- the migration ----------------------------------------------------------------------------------------


def test_the_migration_gives_existing_users_their_own_tokens_and_goes_back(database):
    with database.write_engine.begin() as connection:
        command.downgrade(schema._config(connection), "0005")
        connection.execute(sa.text("INSERT INTO users (name, display_name, active) VALUES "
                                   "('old_a', 'A', true), ('old_b', 'B', true)"))
    assert "login_sessions" not in sa.inspect(database.write_engine).get_table_names()
    schema.upgrade(database)
    with database.read() as session:
        users = session.scalars(sa.select(User).where(User.name.in_(["old_a", "old_b"]))).all()
    tokens = {user.session_token for user in users}
    assert len(tokens) == 2 and all(len(token) >= 40 for token in tokens)
    assert not any(user.must_change_password for user in users)
