"""Names the tests share. Kept out of conftest.py: the web and browser folders have conftest files of
their own, and pytest lets only one module be called `conftest` at a time."""

from __future__ import annotations

from pathlib import Path

from engine import Actor

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIAGRAM = ROOT / "tests" / "engine" / "diagrams" / "demo_petition.bpmn"


def make_actor(name: str, *roles: str, department: str | None = None) -> Actor:
    return Actor(name, name, department, frozenset(roles))
