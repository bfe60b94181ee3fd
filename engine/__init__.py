"""The workflow runtime: deployments, cases, work items, timers, audit log. Never imports Flask.

This face names what most callers need; `engine.api` is the whole door for web/ and the CLI. The rooms
behind it are mapped at the top of docs/architecture.md.
"""

from engine.api import (
    Actor,
    Conflict,
    Engine,
    EngineError,
    FakeClock,
    Forbidden,
    FormErrors,
    IncidentRaised,
    NotFound,
    SystemClock,
    ValidationFailed,
    schema,
)

__all__ = [
    "Actor", "Conflict", "Engine", "EngineError", "FakeClock", "Forbidden", "FormErrors", "IncidentRaised",
    "NotFound", "SystemClock", "ValidationFailed", "schema",
]
