"""Web fixtures: the Flask app over a real engine (SQLite and PostgreSQL), the demo organisation and the
petition chain deployed, a fake clock on 2 March 2026, CSRF on as in production."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from engine import Engine, FakeClock

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "processes"))

from chain import seed_staff  # noqa: E402

from web import create_app  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-03-02T09:00:00+08:00")


@pytest.fixture
def engine(database, clock) -> Engine:
    engine = Engine(database, clock=clock)
    seed_staff(engine)
    return engine


@pytest.fixture
def app(engine):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}, engine=engine)
    yield app


@pytest.fixture
def client(app):
    return app.test_client()
