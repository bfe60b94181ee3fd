"""Signing in and out, changing one's password; `g.actor` for every request of a signed-in user.

The session cookie carries only a random session id; the engine keeps the session (engine/org/sessions.py),
so logout, a password change or "log out everywhere" ends it in every process. A user holding an initial
password may do nothing but change it. Failed logins are throttled per (user name, address) pair with
growing waits, and per address (Flask-Limiter); only failures count, and nobody elsewhere can lock a
user out by guessing.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from engine.api import MIN_PASSWORD_LENGTH, PasswordRejected
from web.current import current_engine

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = {"auth.login", "assets.file", "static"}
# What a user with an initial password may still reach.
FIRST_LOGIN_ENDPOINTS = PUBLIC_ENDPOINTS | {"auth.password", "auth.logout"}
# Before sign-in only the login form can be posted: a few short fields.
ANONYMOUS_MAX_BYTES = 4 * 1024
ANONYMOUS_MAX_FIELDS = 8
# Failures allowed per (name, address) pair: the wait after them grows from a minute to an hour to a day.
LOGIN_BACKOFF = "5 per minute;10 per hour;20 per day"


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名"), Length(max=100, message="用户名过长")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码"), Length(max=200, message="密码过长")])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new = PasswordField("新密码", validators=[
        DataRequired("请输入新密码"), Length(min=MIN_PASSWORD_LENGTH, message=f"新密码至少 {MIN_PASSWORD_LENGTH} 位")])
    confirm = PasswordField("再次输入新密码", validators=[EqualTo("new", "两次输入的新密码不一致")])


def _failed(response) -> bool:
    return response.status_code == 401


def _name_and_address() -> str:
    return "login:" + (request.form.get("username") or "").strip().lower() + "|" + get_remote_address()


def register(app: Flask) -> None:
    """Find the request's user before anything reads the body (CSRF does), so an anonymous request gets
    the small limits."""

    @app.before_request
    def load_actor():
        g.actor = None
        session_id = session.get("sid")
        signed_in = current_engine().staff.session_actor(session_id) if isinstance(session_id, str) else None
        if signed_in is None:
            if session_id is not None:
                session.clear()
                flash("登录已失效或超时，请重新登录", "info")
            return _anonymous()
        g.actor = signed_in.actor
        if signed_in.must_change_password and request.endpoint not in FIRST_LOGIN_ENDPOINTS:
            flash("请先修改初始密码，然后才能使用系统", "info")
            return redirect(url_for("auth.password"))
        return None


def _anonymous():
    if request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
    request.max_content_length = ANONYMOUS_MAX_BYTES
    request.max_form_parts = ANONYMOUS_MAX_FIELDS
    if request.method == "POST" and len(request.form) + len(request.files) > ANONYMOUS_MAX_FIELDS:
        abort(413)
    return None


def require_role(*roles: str):
    """Only users holding one of `roles` may call the view (403 otherwise)."""
    def decorate(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if not g.actor.roles.intersection(roles):
                abort(403)
            return view(*args, **kwargs)
        return guarded
    return decorate


def safe_next(target: str | None, fallback: str | None = None) -> str:
    # Only a path on this site, never another host (open redirect). Browsers read a backslash as "/" and
    # drop tabs and newlines, so such paths could leave the site just like "//evil.example".
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and target.isprintable():
        return target
    return fallback or url_for("home.index")


def throttle_logins(app: Flask) -> None:
    """Count failed logins per (user name, address) pair, waiting longer the more there are, and per
    address, in a Limiter of this app alone. Not per name alone: then anyone anywhere could lock a user
    out; guessing a policy-checked password one address at a time is hopeless anyway.

    A module-level Limiter has one storage, replaced by every init_app: two apps in one process (tests,
    several app factories) would share and reset each other's counters.
    """
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    view = app.view_functions["auth.login"]
    view = limiter.limit("30 per 15 minutes", methods=["POST"], deduct_when=_failed,
                         error_message="该地址登录失败次数过多，请 15 分钟后再试")(view)
    view = limiter.limit(LOGIN_BACKOFF, key_func=_name_and_address, methods=["POST"],
                         deduct_when=_failed, error_message="登录失败次数过多，请稍后再试")(view)
    app.view_functions["auth.login"] = view


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        outcome = current_engine().staff.login(form.username.data.strip(), form.password.data)
        if outcome is not None:
            signed_in, session_id = outcome
            session.clear()  # a fresh session on every sign-in (no fixation)
            session.permanent = True
            session["sid"] = session_id
            if signed_in.must_change_password:
                flash("这是初始密码，请先修改密码", "info")
                return redirect(url_for("auth.password"))
            return redirect(safe_next(request.args.get("next")))
        flash("用户名或密码错误", "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    current_engine().staff.logout(session["sid"])
    session.clear()
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.post("/logout/everywhere")
def logout_everywhere():
    current_engine().staff.logout_everywhere(g.actor)
    session.clear()
    flash("您已在所有设备上退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            session["sid"] = current_engine().staff.change_password(g.actor, form.current.data, form.new.data)
        except PasswordRejected as rejected:
            form.current.errors.append(str(rejected)) if "当前" in str(rejected) else form.new.errors.append(
                str(rejected))
        else:
            flash("密码已修改，其他已登录的会话已失效", "info")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form), 400 if form.errors else 200
