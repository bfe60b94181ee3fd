"""Service-task handlers by name. Diagrams name a handler (`camunda:topic`); `handlers/` registers
plain functions here; the engine never imports `handlers/` directly (it loads a module by name)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session


def _nobody_to_hand_over(purpose: str, value: str) -> None:
    raise RuntimeError(f"此次调用无法交付 {purpose}：没有接收人")


@dataclass(frozen=True)
class HandlerContext:
    """What a handler may use: a copy of the case data, the command's clock, transaction and actor."""

    case_id: int
    data: Mapping[str, Any]
    now: datetime
    actor: str
    session: Session  # the command's transaction: what a handler writes commits or rolls back with the case
    # The service task's camunda:properties: how the diagram configures this call (e.g. window_days).
    properties: Mapping[str, str] = field(default_factory=dict)
    # hand_over(purpose, value): give a secret to the person running the command, once, keeping it out of
    # the case data and the audit log (engine/secrets/handover.py).
    hand_over: Callable[[str, str], None] = _nobody_to_hand_over


Handler = Callable[[HandlerContext], Mapping[str, Any] | None]


class HandlerRegistry:
    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, name: str) -> Callable[[Handler], Handler]:
        def decorate(function: Handler) -> Handler:
            if name in self._handlers and self._handlers[name] is not function:
                raise ValueError(f"handler {name!r} registered twice")
            self._handlers[name] = function
            return function

        return decorate

    def get(self, name: str) -> Handler | None:
        return self._handlers.get(name)

    def names(self) -> set[str]:
        return set(self._handlers)


registry = HandlerRegistry()
register = registry.register


def load_handler_modules(names: str = "handlers") -> None:
    """Import the modules that register handlers (comma-separated module names)."""
    for name in filter(None, (part.strip() for part in names.split(","))):
        importlib.import_module(name)
