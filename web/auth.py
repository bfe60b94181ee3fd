"""Signing in and out, changing one's password; `g.actor` for every request of a signed-in user.

Failed logins are throttled per user name and per address (Flask-Limiter); only failures count.
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


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[DataRequired("请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired("请输入密码")])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired("请输入当前密码")])
    new = PasswordField("新密码", validators=[
        DataRequired("请输入新密码"), Length(min=MIN_PASSWORD_LENGTH, message=f"新密码至少 {MIN_PASSWORD_LENGTH} 位")])
    confirm = PasswordField("再次输入新密码", validators=[EqualTo("new", "两次输入的新密码不一致")])


def _failed(response) -> bool:
    return response.status_code == 401


def _username_key() -> str:
    return "user:" + (request.form.get("username") or "").strip().lower()


@bp.before_app_request
def load_actor() -> None:
    g.actor = None
    name, stamp = session.get("user"), session.get("stamp")
    if name and stamp:
        g.actor = current_engine().staff.session_actor(name, stamp)
        if g.actor is None:
            session.clear()
    if g.actor is None and request.endpoint not in PUBLIC_ENDPOINTS:
        return redirect(url_for("auth.login", next=request.full_path if request.method == "GET" else None))
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
    """Count failed logins per user name and per address, in a Limiter of this app alone.

    A module-level Limiter has one storage, replaced by every init_app: two apps in one process (tests,
    several app factories) would share and reset each other's counters.
    """
    limiter = Limiter(get_remote_address, app=app, default_limits=[])
    view = app.view_functions["auth.login"]
    view = limiter.limit("30 per 15 minutes", methods=["POST"], deduct_when=_failed,
                         error_message="该地址登录失败次数过多，请 15 分钟后再试")(view)
    view = limiter.limit("5 per 15 minutes", key_func=_username_key, methods=["POST"], deduct_when=_failed,
                         error_message="登录失败次数过多，请 15 分钟后再试")(view)
    app.view_functions["auth.login"] = view


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        outcome = current_engine().staff.login(form.username.data.strip(), form.password.data)
        if outcome is not None:
            actor, stamp = outcome
            session.clear()  # a fresh session on every sign-in (no fixation)
            session.permanent = True
            session["user"], session["stamp"] = actor.name, stamp
            return redirect(safe_next(request.args.get("next")))
        flash("用户名或密码错误", "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    session.clear()
    flash("您已退出登录", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            session["stamp"] = current_engine().staff.change_password(g.actor, form.current.data, form.new.data)
        except PasswordRejected as rejected:
            form.current.errors.append(str(rejected)) if "当前" in str(rejected) else form.new.errors.append(
                str(rejected))
        else:
            flash("密码已修改，其他已登录的会话已失效", "info")
            return redirect(url_for("home.index"))
    return render_template("auth/password.html", form=form), 400 if form.errors else 200
