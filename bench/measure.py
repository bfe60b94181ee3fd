"""What every benchmark part shares: the figures of a sample, the head of a generated diagram, and the
scratch databases of one run."""

from __future__ import annotations

import statistics
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from engine.store.db import normalise_url

DIAGRAM_HEAD = ('<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
                ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="bench" targetNamespace="http://xinfang/bench">')


def figures(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p95_ms": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 3),
            "mean_ms": round(statistics.fmean(ordered), 3), "samples": len(ordered)}


class ScratchDatabases:
    """Fresh databases for one benchmark run: SQLite files in a temporary folder, PostgreSQL databases
    created on the server and dropped at the end."""

    def __init__(self, postgres_url: str) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.admin = sa.create_engine(normalise_url(postgres_url), isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def sqlite(self) -> str:
        return f"sqlite:///{Path(self.folder.name) / f'bench-{uuid.uuid4().hex[:8]}.db'}"

    def postgresql(self) -> str:
        name = f"xinfang_bench_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.admin.url.set(database=name).render_as_string(hide_password=False)

    def postgres_reachable(self) -> str | None:
        try:
            with self.admin.connect() as connection:
                connection.execute(sa.text("select 1"))
        except sa.exc.OperationalError as exc:
            return f"PostgreSQL unreachable: {exc.orig}"
        return None

    def close(self) -> None:
        for name in self.created:
            with self.admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()
        self.folder.cleanup()
