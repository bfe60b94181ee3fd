"""Web-page benchmark for `xinfang bench`: the queue pages, the navigation counts and the case page over
a bulk-loaded dataset (bench/dataset.py), on SQLite and PostgreSQL.

Times are server time: each request goes through the whole Flask app (session, actor lookup, engine
reads, navigation counts, template) via the test client, with no network or browser in between.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.dataset import build
from bench.measure import figures
from engine import Engine, FakeClock
from engine.org.sessions import open_session
from engine.store import schema
from engine.store.db import Database
from engine.store.models import User
from web import create_app, settle

# Petition staff, a handling department's staff member, and its leader (who also has the department view).
USERS = ("xf_wang", "s1_liu", "s1_sun")
GOALS_MS = {"queue_mine": 50, "queue_groups": 50, "counts": 50, "case_page": 100}


def _client(app, engine: Engine, user: str):
    with engine.db.write() as session:
        row = session.get(User, user)
        row.must_change_password = False  # a benchmark user never goes through a first login
        session_id = open_session(session, row, engine.now())
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["sid"] = session_id
    return client


def _timed_get(client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {response.status_code}")
    return elapsed


def _sample(action: Callable[[int], float], samples: int, warm_up: int = 3) -> dict:
    for index in range(warm_up):
        action(index)
    return figures([action(index) for index in range(samples)])


def measure(engine: Engine, case_ids: tuple[int, ...], samples: int) -> dict:
    """p50/p95 per page and user; the queue pages include the navigation counts, as every page does."""
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "SESSION_COOKIE_SECURE": False}, engine=engine)
    settle()  # as `xinfang serve` does
    pages: dict = {}
    for user in USERS:
        client = _client(app, engine, user)
        actor = engine.actor(user)
        views = ["mine", "groups"] + (["department"] if "department" in engine.staff.views_of(actor) else [])
        found = {f"queue_{view}": _sample(lambda _, v=view, c=client: _timed_get(c, f"/tasks/?view={v}"), samples)
                 for view in views}

        def counts(_, a=actor) -> float:
            started = time.perf_counter()
            engine.queue_counts(a)
            return (time.perf_counter() - started) * 1000

        found["counts"] = _sample(counts, samples)
        found["counts"]["values"] = engine.queue_counts(actor)
        found["case_page"] = _sample(lambda i, c=client: _timed_get(c, f"/cases/{case_ids[i % len(case_ids)]}"),
                                     samples)
        pages[user] = found
    worst = {page: max(found[page]["p95_ms"] for found in pages.values()) for page in GOALS_MS}
    return {"pages": pages, "worst_p95_ms": worst,
            "goals_met": {page: worst[page] <= goal for page, goal in GOALS_MS.items()}}


def run_web_benchmark(backends: dict[str, Callable[[], str]], cases: int = 100_000, samples: int = 100) -> dict:
    """The web figures per backend; `backends` maps a name to a factory of fresh database URLs."""
    report: dict = {}
    for name, fresh_url in backends.items():
        database = Database(fresh_url())
        schema.upgrade(database)
        engine = Engine(database, clock=FakeClock())
        try:
            dataset = build(engine, cases)
            report[name] = {"dataset": {key: value for key, value in vars(dataset).items() if key != "measured_cases"},
                            **measure(engine, dataset.measured_cases, samples)}
        finally:
            database.dispose()
    return report
