"""The Flask app: a thin layer over the engine's API (never imports SpiffWorkflow)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from engine import Engine


def create_app(test_config: dict[str, Any] | None = None, engine: Engine | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("XINFANG_SECRET_KEY", "dev-only-change-me"),
        DATABASE_URL=os.environ.get("XINFANG_DATABASE_URL"),
    )
    app.config.from_pyfile("config.py", silent=True)
    if test_config:
        app.config.from_mapping(test_config)
    app.extensions["xinfang"] = engine or Engine(app.config["DATABASE_URL"])

    from web import filters, home

    filters.register(app)
    app.register_blueprint(home.bp)
    return app


def current_engine() -> Engine:
    from flask import current_app

    return current_app.extensions["xinfang"]
