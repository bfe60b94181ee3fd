"""`xinfang bench`: the parts chosen, on fresh SQLite and PostgreSQL databases, as one JSON report."""

from __future__ import annotations

from collections.abc import Collection

from bench.measure import ScratchDatabases
from bench.steps import run_engine_benchmarks
from bench.timers import run_timer_benchmarks
from bench.web_pages import run_web_benchmark

PARTS = ("engine", "timers", "web")


def run_all(postgres_url: str, cases: int = 30, timers: int = 10_000, web_cases: int = 100_000,
            parts: Collection[str] = PARTS) -> dict:
    """The figures of `parts`; each part gets the backends as name -> factory of fresh database URLs."""
    report: dict = {}
    scratch = ScratchDatabases(postgres_url)
    try:
        backends = {"sqlite": scratch.sqlite}
        unreachable = scratch.postgres_reachable()
        if unreachable:
            report["postgresql"] = {"error": unreachable}
        else:
            backends["postgresql"] = scratch.postgresql
        if "engine" in parts:
            report.update(run_engine_benchmarks(backends, cases))
        if "timers" in parts:
            report["timers"] = run_timer_benchmarks(backends, timers)
        if "web" in parts:
            report["web"] = run_web_benchmark(backends, web_cases)
    finally:
        scratch.close()
    return report
