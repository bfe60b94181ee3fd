"""The Flask app: a thin layer over the engine's API (never imports SpiffWorkflow).

One blueprint per area (auth, tasks, intake, cases, search, notices, admin, recusal, incidents); every page but
the login needs a signed-in user, and every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

import gc
import os
import secrets
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect

from engine import Engine
from engine.api import ABSOLUTE_TIMEOUT, Database, instance_folder, load_audit_key
from web.current import current_engine

csrf = CSRFProtect()


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def create_app(test_config: dict[str, Any] | None = None, engine: Engine | None = None, *,
               production: bool | None = None, instance_path: str | None = None) -> Flask:
    """The app. `production` (default: XINFANG_ENV=production) refuses to start without an explicit
    SECRET_KEY; otherwise a missing key is generated once into the instance folder and kept there."""
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("XINFANG_SECRET_KEY"),
        XINFANG_ENV=os.environ.get("XINFANG_ENV", "development"),
        DATABASE_URL=os.environ.get("XINFANG_DATABASE_URL"),
        # Browsers treat http://localhost and 127.0.0.1 as secure, so the embedded set-up works as is;
        # behind plain http on another host set XINFANG_SECURE_COOKIES=false (better: put TLS in front).
        SESSION_COOKIE_SECURE=_env_flag("XINFANG_SECURE_COOKIES", True),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=ABSOLUTE_TIMEOUT,  # the server ends sessions earlier when idle
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: a long form is never lost
        MAX_CONTENT_LENGTH=100 * 1024 * 1024,
        RATELIMIT_STORAGE_URI=os.environ.get("XINFANG_RATELIMIT_STORAGE_URI", "memory://"),
        NODE_MODULES=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node_modules"),
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    if production is None:
        production = app.config["XINFANG_ENV"] == "production"
    app.config["SECRET_KEY"] = _secret_key(app, production)
    app.extensions["xinfang"] = engine or _engine(app.config["DATABASE_URL"])

    from web import (
        admin,
        assets,
        auth,
        cases,
        errors,
        filters,
        hardening,
        home,
        incidents,
        intake,
        nav,
        notices,
        recusal,
        search,
        tasks,
    )

    hardening.register(app)
    _one_snapshot_per_request(app)
    auth.register(app)  # before CSRF: the session decides how large an anonymous body may be
    csrf.init_app(app)
    filters.register(app)
    errors.register(app)
    nav.register(app)
    for blueprint in (auth.bp, assets.bp, home.bp, tasks.bp, intake.bp, cases.bp, search.bp, notices.bp, admin.bp,
                      recusal.bp, incidents.bp):
        app.register_blueprint(blueprint)
    auth.throttle_logins(app)  # wraps the registered login view
    return app


def _engine(url: str | None) -> Engine:
    """The engine of an app started without one (e.g. by gunicorn), keyed as the CLI keys it: a process
    writing plain audit rows after keyed ones would read as a rewrite."""
    database = Database(url)
    return Engine(database, audit_key=load_audit_key(instance_folder(database.url)))


def _secret_key(app: Flask, production: bool) -> str:
    """The key that signs session cookies and CSRF tokens. A fixed fallback would let anyone sign a
    cookie, so without an explicit key each installation makes its own random one (file mode 0600)."""
    if app.config.get("SECRET_KEY"):
        return app.config["SECRET_KEY"]
    if production:
        raise RuntimeError("生产模式（XINFANG_ENV=production）必须设置 XINFANG_SECRET_KEY")
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f"secret_key.{os.getpid()}.tmp")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(draft, path)  # atomic and never overwrites: processes starting together agree on one key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _one_snapshot_per_request(app: Flask) -> None:
    """A request's reads share one database transaction (engine.snapshot): one connection checkout per
    page instead of one per read, and counts, queue and page all from the same moment."""

    @app.before_request
    def open_snapshot() -> None:
        g.snapshot = ExitStack()
        g.snapshot.enter_context(current_engine().snapshot())

    @app.teardown_request
    def close_snapshot(_error: BaseException | None) -> None:
        snapshot = g.pop("snapshot", None)
        if snapshot is not None:
            snapshot.close()


def settle() -> None:
    """Once the app is built, take what is loaded so far out of the cyclic garbage collector's sweeps
    (gc.freeze): a full sweep over a long-lived heap stalls a request for tens of milliseconds."""
    gc.collect()
    gc.freeze()
