"""Errors the engine reports to people: each carries a Chinese message fit to show as is."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_minutes(instant: datetime) -> str:
    """How messages show an instant: Beijing time to the minute."""
    return instant.astimezone(_SHANGHAI).strftime("%Y-%m-%d %H:%M")


class EngineError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(EngineError):
    pass


class Forbidden(EngineError):
    pass


class Conflict(EngineError):
    """Someone else changed the case or the task first."""


class IncidentRaised(EngineError):
    """A script or handler failed; the case is as before the command and an incident is open. `input_kept`:
    whether the incident holds what the user submitted (False when it failed before their input was used)."""

    def __init__(self, message: str, incident_id: int, case_id: int, input_kept: bool = True) -> None:
        super().__init__(message)
        self.incident_id = incident_id
        self.case_id = case_id
        self.input_kept = input_kept
