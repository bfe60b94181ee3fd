"""The workflow runtime: deployments, cases, work items, timers, audit log. Never imports Flask."""

from engine import schema
from engine.api import Engine
from engine.clock import FakeClock, SystemClock
from engine.deployments import ValidationFailed
from engine.errors import Conflict, EngineError, Forbidden, IncidentRaised, NotFound
from engine.forms import FormErrors
from engine.organisation import Actor

__all__ = [
    "Actor", "Conflict", "Engine", "EngineError", "FakeClock", "Forbidden", "FormErrors", "IncidentRaised",
    "NotFound", "SystemClock", "ValidationFailed", "schema",
]
