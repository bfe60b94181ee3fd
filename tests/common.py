"""Names the tests share. Kept out of conftest.py: the web and browser folders have conftest files of
their own, and pytest lets only one module be called `conftest` at a time."""

from __future__ import annotations

import os
from pathlib import Path

from engine import Actor
from engine.store.db import normalise_url

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIAGRAM = ROOT / "tests" / "engine" / "diagrams" / "demo_petition.bpmn"
POSTGRES_URL = normalise_url(
    os.environ.get("XINFANG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)


def make_actor(name: str, *roles: str, department: str | None = None) -> Actor:
    return Actor(name, name, department, frozenset(roles))
