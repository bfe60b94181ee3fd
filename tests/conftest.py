"""Shared fixtures: every engine test runs on SQLite and on PostgreSQL.

PostgreSQL comes from XINFANG_TEST_POSTGRES_URL (default: the local server's `test` database). Each test
session creates its own database there and drops it at the end. Under CI=true a missing server fails
the run instead of skipping.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator

import demo_handlers  # noqa: F401  (registers demo.acknowledge for the demo diagram)
import pytest
import sqlalchemy as sa
from common import DEMO_DIAGRAM, POSTGRES_URL, make_actor

from engine import Actor, Engine, FakeClock
from engine.bpmn.deployments import read_paths
from engine.store import schema
from engine.store.db import Database
from engine.store.models import Base

# A fixed data key for every test (engine/secrets/keys.py), so no test writes a key file into instance/;
# tests of the key file itself pass their own environment.
TEST_DATA_KEY = base64.b64encode(bytes(range(32))).decode()



def _postgres_admin() -> sa.Engine | None:
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as exc:
        admin.dispose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true but unreachable at {POSTGRES_URL}: {exc}")
        return None
    return admin


@pytest.fixture(autouse=True)
def data_key(monkeypatch) -> str:
    monkeypatch.setenv("XINFANG_DATA_KEY", TEST_DATA_KEY)
    monkeypatch.delenv("XINFANG_PREVIOUS_DATA_KEYS", raising=False)
    return TEST_DATA_KEY


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = _postgres_admin()
    if admin is None:
        pytest.skip("PostgreSQL not reachable (set XINFANG_TEST_POSTGRES_URL)")
    name = f"xinfang_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    schema.upgrade(database)
    database.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> Database:
    database = Database(url)
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with database.write() as session:
        session.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        session.execute(sa.text("INSERT INTO audit_head (id, last_hash) VALUES (1, :h)"), {"h": "0" * 64})
    return database


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'xinfang.db'}")
        schema.upgrade(database)
    else:
        database = _empty_postgres(request.getfixturevalue("postgres_url"))
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock("2026-03-02T09:00:00+08:00")  # a Monday


@pytest.fixture
def engine(database, clock) -> Engine:
    return Engine(database, clock)


@pytest.fixture
def demo_engine(engine) -> Engine:
    """An engine with the small demo diagram deployed."""
    engine.deploy(read_paths([DEMO_DIAGRAM]), by="test")
    return engine



@pytest.fixture
def staff() -> Actor:
    return make_actor("wang", "petition_staff")


@pytest.fixture
def leader() -> Actor:
    return make_actor("li", "leader_in_charge")
