"""The engine of the running app, for the blueprints (kept apart from the app factory, which imports them)."""

from __future__ import annotations

from flask import current_app

from engine import Engine


def current_engine() -> Engine:
    return current_app.extensions["xinfang"]
