"""The timer ticker. APScheduler only ticks; the database coordinates (DESIGN decision 5).

Each tick leases due rows of the timer table atomically — PostgreSQL `FOR UPDATE SKIP LOCKED`, SQLite a
single conditional UPDATE — then fires each through the engine in the case's own transaction (on SQLite,
a savepoint of a transaction shared by up to `per_transaction` firings, see `Database.batch`). A lease
held by a dead process expires and another process takes the timer; a failure backs off; a script or
handler error parks the timer under its incident until someone retries or skips it.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from engine.errors import Conflict, IncidentRaised
from engine.runtime.commands import CommandRunner
from engine.runtime.incidents import incident_owner
from engine.store.db import Database
from engine.store.models import Timer

log = logging.getLogger(__name__)
PARKED_UNTIL = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass
class TickResult:
    claimed: int = 0
    fired: int = 0
    failed: int = 0


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class TimerScheduler:
    def __init__(self, db: Database, commands: CommandRunner, owner: str | None = None,
                 lease_seconds: float = 60.0, batch: int = 200, per_transaction: int = 20) -> None:
        self.db, self.commands = db, commands
        self.owner = owner or default_owner()
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        # Firings per SQLite write transaction: fewer commits, while other writers wait only briefly.
        self.per_transaction = per_transaction

    def claim(self, now: datetime) -> list[tuple[int, int, str]]:
        """Lease up to `batch` due timers for this process, atomically: (timer id, case id, task id)."""
        due = sa.select(Timer.id).where(
            Timer.due_at < now, sa.or_(Timer.lease_until.is_(None), Timer.lease_until < now)
        ).order_by(Timer.due_at).limit(self.batch)
        with self.db.read() as session:  # an idle tick stays a cheap indexed read, no write lock
            if session.scalar(due.limit(1)) is None:
                return []
        if self.db.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            sa.update(Timer).where(Timer.id.in_(due.scalar_subquery()))
            .values(lease_owner=self.owner, lease_until=now + self.lease)
            .returning(Timer.id, Timer.case_id, Timer.task_id)
            .execution_options(synchronize_session=False)
        )
        with self.db.write() as session:
            return sorted(tuple(row) for row in session.execute(statement))

    def tick(self) -> TickResult:
        result = TickResult()
        leased = self.claim(self.commands.clock.now())
        for start in range(0, len(leased), self.per_transaction):
            # Should a shared transaction fail to commit, none of its firings happened: the error
            # propagates, and their leases run out as after a crash.
            with self.db.batch():
                for timer in leased[start:start + self.per_transaction]:
                    self._fire(*timer, result)
        return result

    def _fire(self, timer_id: int, case_id: int, task_id: str, result: TickResult) -> None:
        result.claimed += 1
        try:
            self.commands.fire_timer(timer_id, self.owner, leased=(case_id, task_id))
            result.fired += 1
        except IncidentRaised as incident:
            self._release(timer_id, park_as=incident_owner(incident.incident_id))
            result.failed += 1
        except Conflict as conflict:  # lost the lease, or the case moved on: the row tells the truth
            log.info("timer %s not fired: %s", timer_id, conflict.message)
            self._release(timer_id, error=conflict.message)
        except Exception as error:  # database trouble and the like: back off and try again
            log.exception("timer %s failed", timer_id)
            self._release(timer_id, error=repr(error))
            result.failed += 1

    def _release(self, timer_id: int, error: str | None = None, park_as: str | None = None) -> None:
        now = self.commands.clock.now()
        with self.db.write() as session:
            row = session.get(Timer, timer_id)
            if row is None or row.lease_owner != self.owner:
                return
            if park_as:
                row.lease_owner, row.lease_until = park_as, PARKED_UNTIL
                return
            row.attempts += 1
            row.last_error = error
            row.lease_owner = None
            row.lease_until = now + timedelta(seconds=min(2 ** row.attempts, 300))

    def drain(self) -> int:
        """Tick until nothing due is left (tests, benchmarks, catching up after downtime)."""
        total = 0
        while (result := self.tick()).claimed:
            total += result.fired
        return total

    def start(self, interval: float = 1.0, blocking: bool = False):
        """Run `tick` every `interval` seconds: in the background (serve) or in the foreground (scheduler)."""
        scheduler = BlockingScheduler() if blocking else BackgroundScheduler(daemon=True)
        scheduler.add_job(self.tick, "interval", seconds=interval, max_instances=1, coalesce=True,
                          id="xinfang-timers", next_run_time=datetime.now().astimezone())
        scheduler.start()
        return scheduler
