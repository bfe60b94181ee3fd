"""The one clock the engine reads, SpiffWorkflow's timer module included.

Commands run inside `clock_scope(clock)`; SpiffWorkflow's timer module and task timestamps are patched once
to read the clock of the current scope, so tests drive timers with a fake clock and replay can re-run a case
at its recorded instants.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to; thread-safe so scheduler tests can share it."""

    def __init__(self, start: datetime | str = "2026-03-02T09:00:00+08:00") -> None:
        if isinstance(start, str):
            start = datetime.fromisoformat(start)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        with self._lock:
            self._now += delta if delta is not None else timedelta(**kwargs)
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = instant.astimezone(UTC)


_SYSTEM = SystemClock()
_current: contextvars.ContextVar[Clock] = contextvars.ContextVar("xinfang_clock", default=_SYSTEM)


def current_clock() -> Clock:
    return _current.get()


@contextmanager
def clock_scope(clock: Clock) -> Iterator[Clock]:
    _install_spiff_hooks()
    token = _current.set(clock)
    try:
        yield clock
    finally:
        _current.reset(token)


class _ScopedDatetime(datetime):
    """Stands in for `datetime` inside SpiffWorkflow's timer module."""

    @classmethod
    def now(cls, tz=None):  # noqa: ANN001 - signature of datetime.now
        instant = current_clock().now()
        return instant.astimezone(tz) if tz is not None else instant.replace(tzinfo=None)


class _ScopedTime:
    """Stands in for the `time` module inside SpiffWorkflow's task module (last_state_change)."""

    @staticmethod
    def time() -> float:
        return current_clock().now().timestamp()

    def __getattr__(self, name: str):
        return getattr(time, name)


_installed = False
_install_lock = threading.Lock()


def _install_spiff_hooks() -> None:
    global _installed
    if _installed:
        return
    with _install_lock:
        if _installed:
            return
        from SpiffWorkflow import task as spiff_task
        from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

        spiff_timer.datetime = _ScopedDatetime
        spiff_task.time = _ScopedTime()
        _installed = True
