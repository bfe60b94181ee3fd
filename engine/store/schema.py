"""Schema management through Alembic, callable from the CLI and from tests."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from engine.store.db import Database

_MIGRATIONS = Path(__file__).parent / "migrations"


def _config(connection) -> Config:
    config = Config(str(_MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    with database.write_engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def autogenerate(database: Database, message: str) -> None:
    """Developer aid: write a new migration from the difference between models and database."""
    with database.write_engine.begin() as connection:
        command.revision(_config(connection), message=message, autogenerate=True)
