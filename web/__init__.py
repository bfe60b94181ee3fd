"""The Flask app: a thin layer over the engine's API (never imports SpiffWorkflow).

One blueprint per area (auth, tasks, intake, cases, search, notices, admin); every page but the login
needs a signed-in user, and every form carries a CSRF token (Flask-WTF).
"""

from __future__ import annotations

import gc
import os
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect

from engine import Engine
from web.current import current_engine

csrf = CSRFProtect()


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


def create_app(test_config: dict[str, Any] | None = None, engine: Engine | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("XINFANG_SECRET_KEY", "dev-only-change-me"),
        DATABASE_URL=os.environ.get("XINFANG_DATABASE_URL"),
        # Browsers treat http://localhost and 127.0.0.1 as secure, so the embedded set-up works as is;
        # behind plain http on another host set XINFANG_SECURE_COOKIES=false (better: put TLS in front).
        SESSION_COOKIE_SECURE=_env_flag("XINFANG_SECURE_COOKIES", True),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: a long form is never lost
        MAX_CONTENT_LENGTH=100 * 1024 * 1024,
        RATELIMIT_STORAGE_URI=os.environ.get("XINFANG_RATELIMIT_STORAGE_URI", "memory://"),
        NODE_MODULES=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "node_modules"),
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    app.extensions["xinfang"] = engine or Engine(app.config["DATABASE_URL"])
    csrf.init_app(app)

    from web import admin, assets, auth, cases, errors, filters, home, intake, nav, notices, search, tasks

    _one_snapshot_per_request(app)
    filters.register(app)
    errors.register(app)
    nav.register(app)
    for blueprint in (auth.bp, assets.bp, home.bp, tasks.bp, intake.bp, cases.bp, search.bp, notices.bp, admin.bp):
        app.register_blueprint(blueprint)
    auth.throttle_logins(app)  # wraps the registered login view
    return app


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
