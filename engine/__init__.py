"""The workflow runtime: deployments, cases, work items, timers, audit log. Never imports Flask."""

from engine.api import Engine
from engine.bpmn.deployments import ValidationFailed
from engine.bpmn.forms import FormErrors
from engine.errors import Conflict, EngineError, Forbidden, IncidentRaised, NotFound
from engine.org.organisation import Actor
from engine.store import schema
from engine.timing.clock import FakeClock, SystemClock

__all__ = [
    "Actor", "Conflict", "Engine", "EngineError", "FakeClock", "Forbidden", "FormErrors", "IncidentRaised",
    "NotFound", "SystemClock", "ValidationFailed", "schema",
]
