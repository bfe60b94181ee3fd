"""Web fixtures: the Flask app over a real engine (SQLite and PostgreSQL), the demo organisation and the
petition chain deployed, a fake clock on 2 March 2026, CSRF on as in production."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine import Engine, FakeClock
from engine.store.models import User

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "processes"))

from chain import seed_organisation  # noqa: E402

from web import create_app  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-03-02T09:00:00+08:00")


@pytest.fixture
def engine(database, clock) -> Engine:
    engine = Engine(database, clock=clock)
    seed_organisation(engine)
    with engine.db.write() as session:  # as if every demo user had replaced the initial password already
        session.execute(sa.update(User).values(must_change_password=False))
    return engine


@pytest.fixture
def app(engine):
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SESSION_COOKIE_SECURE": False}, engine=engine)
    yield app


@pytest.fixture
def client(app):
    return app.test_client()
