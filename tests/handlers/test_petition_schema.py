"""The migrations build exactly the tables engine/store/models.py declares (the registry tables included), and
0002 downgrades and upgrades cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.store import schema
from engine.store.db import Database
from engine.store.models import Base

REGISTRY_TABLES = {"petitions", "petition_accused", "registration_counters", "notices"}


def _differences(database: Database) -> list:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_migrated_schema_matches_the_models(database):
    assert _differences(database) == []


def test_the_registry_migration_goes_down_and_up(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'down.db'}")
    schema.upgrade(database)
    with database.write_engine.begin() as connection:
        command.downgrade(schema._config(connection), "0001")
    assert not REGISTRY_TABLES & set(sa.inspect(database.engine).get_table_names())
    schema.upgrade(database)
    assert set(sa.inspect(database.engine).get_table_names()) >= REGISTRY_TABLES
    assert _differences(database) == []
    database.dispose()
