"""Queue pages merged from index ranges, and counts from range counts, agree with the plain definition of
each view (docs in engine/reads/queues.py) on a random mix of items: bound and unbound, offered under one key
or several (role and named user), claimed or not, due times that tie or are missing."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from diagrams import files

from bench.dataset import DEMO_ORGANISATION
from engine import Engine
from engine.org.organisation import load_organisation
from engine.reads.queues import COMMISSION_ROLES, QUEUES, QueueQuery, views_of
from engine.runtime.handlers_registry import HandlerRegistry
from engine.runtime.workitems import candidate_keys
from engine.store import schema
from engine.store.db import Database
from engine.store.models import Case, Deployment, User, WorkItem, WorkItemCandidate

ROLES = ("petition_staff", "petition_head", "handling_staff", "handling_leader", "supervision_office",
         "leader_in_charge")
DEPARTMENTS = ("petition_office", "supervision_1", "supervision_2", None)
READERS = ("xf_wang", "xf_chen", "s1_liu", "s1_sun", "leader_li")


@pytest.fixture
def eng(database, clock) -> Engine:
    engine = Engine(database, clock, handlers=HandlerRegistry())
    engine.deploy(files("laned.bpmn"), by="owner")  # the cases need a deployment; the items are written here
    with engine.db.write() as session:
        load_organisation(session, DEMO_ORGANISATION)
    return engine


def _random_items(eng: Engine, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    now = eng.now()
    users = {name: eng.actor(name) for name in ("xf_wang", "xf_chen", "s1_liu", "s1_sun", "s2_zhou", "leader_li")}
    dues = [now + timedelta(days=days) for days in (-4, -1, 0.5, 1, 2, 10)]  # few instants: many ties
    items = []
    with eng.db.write() as session:
        deployment = session.scalar(sa.select(Deployment.id))
        session.add(Case(id=1, process_id="queue", deployment_id=deployment, status="running", state="{}",
                         format_version=1, version=1, created_by="owner", created_at=now, updated_at=now, data={}))
        for item_id in range(1, count + 1):
            groups = rng.sample(ROLES, rng.choice((1, 1, 1, 2)))
            named = [rng.choice(list(users))] if rng.random() < 0.15 else []
            department = rng.choice(DEPARTMENTS)
            assignee = rng.choice(list(users)) if rng.random() < 0.35 else None
            due = None if rng.random() < 0.2 else rng.choice(dues)
            keys = candidate_keys(groups, named, department)
            session.add(WorkItem(id=item_id, case_id=1, task_id=f"t{item_id}", process_id="queue", bpmn_id="Task_work",
                                 ordinal=0, name="办理", candidate_groups=groups, candidate_users=named,
                                 department=department, assignee=assignee, created_at=now, due_at=due))
            session.flush()
            session.add_all(WorkItemCandidate(work_item_id=item_id, candidate=key, shared=len(keys) > 1,
                                              assignee=assignee, due_at=due) for key in keys)
            items.append({"id": item_id, "keys": set(keys), "department": department, "assignee": assignee,
                          "due": due})
    return items


def _expected(eng: Engine, items: list[dict], name: str, view: str) -> list[int]:
    actor, now = eng.actor(name), eng.now()
    with eng.db.read() as session:
        members = list(session.scalars(sa.select(User.name).where(User.department == actor.department)))
    department_keys = {f"role:{role}" for user in members for role in eng.actor(user).roles - COMMISSION_ROLES}

    def shown(item: dict) -> bool:
        offered = bool(item["keys"] & set(actor.candidates))
        visible = item["assignee"] == name or (item["assignee"] is None and offered)
        due = item["due"]
        return {
            "mine": item["assignee"] == name,
            "groups": item["assignee"] is None and offered,
            "overdue": visible and due is not None and due < now,
            "due_soon": visible and due is not None and now <= due < now + timedelta(days=3),
            "department": (item["department"] == actor.department
                           or (item["department"] is None and bool(item["keys"] & department_keys))
                           or item["assignee"] in members),
        }[view]

    picked = [item for item in items if shown(item)]
    return [item["id"] for item in sorted(picked, key=lambda i: (i["due"] is None, i["due"] or now, i["id"]))]


def test_pages_and_counts_match_the_plain_definition(eng):
    items = _random_items(eng, 400, seed=7)
    assert any(len(item["keys"]) > 1 for item in items)  # the DISTINCT case is exercised
    for name in READERS:
        actor = eng.actor(name)
        counts = eng.queue_counts(actor)
        for view in views_of(actor):
            expected = _expected(eng, items, name, view)
            pages = [[row["id"] for row in eng.queue(actor, QueueQuery(view=view, limit=13, offset=offset))]
                     for offset in range(0, len(expected) + 13, 13)]
            assert [item_id for page in pages for item_id in page] == expected, (name, view)
            assert counts[view] == len(expected), (name, view)
        assert set(counts) == set(views_of(actor))
    assert "department" in views_of(eng.actor("s1_sun")) and "department" not in views_of(eng.actor("s1_liu"))


def test_filtered_and_other_orders_use_the_same_views(eng):
    items = _random_items(eng, 120, seed=11)
    actor = eng.actor("xf_chen")
    for view in QUEUES + ("department",):
        expected = _expected(eng, items, "xf_chen", view)
        arrived = [row["id"] for row in eng.queue(actor, QueueQuery(view=view, sort="arrived", limit=500))]
        assert sorted(arrived) == sorted(expected), view
        staged = [row["id"] for row in eng.queue(actor, QueueQuery(view=view, stage="queue", limit=500))]
        assert staged == expected, view


def test_migration_0005_marks_the_rows_of_items_offered_under_several_keys(tmp_path, clock):
    database = Database(f"sqlite:///{tmp_path / 'migrate.db'}")
    schema.upgrade(database, "0004")
    now = clock.now()
    before = sa.table("work_item_candidates", sa.column("work_item_id"), sa.column("candidate"))  # 0004's columns
    with database.write_engine.begin() as connection:
        # rows written as 0004's schema has them: today's engine writes columns later migrations add
        deployment = connection.scalar(sa.insert(Deployment.__table__).values(
            process_id="queue", version=1, content_hash="0" * 64, files=files("laned.bpmn"), deployed_by="owner",
            deployed_at=now).returning(Deployment.__table__.c.id))
        connection.execute(sa.insert(Case.__table__).values(
            id=1, process_id="queue", deployment_id=deployment, status="running", state="{}", format_version=1,
            version=1, created_by="owner", created_at=now, updated_at=now, data={}))
        for item_id, keys in ((1, ("role:petition_staff", "user:xf_wang")), (2, ("role:petition_staff",))):
            connection.execute(sa.insert(WorkItem.__table__).values(
                id=item_id, case_id=1, task_id=f"t{item_id}", process_id="queue", bpmn_id="Task_work", ordinal=0,
                name="办理", candidate_groups=[], candidate_users=[], created_at=now))
            connection.execute(sa.insert(before), [{"work_item_id": item_id, "candidate": key} for key in keys])
    schema.upgrade(database)
    with database.read() as session:
        rows = session.execute(sa.select(WorkItemCandidate.work_item_id, WorkItemCandidate.shared)).all()
    assert sorted(map(tuple, rows)) == [(1, True), (1, True), (2, False)]
    with database.write_engine.begin() as connection:
        command.downgrade(schema._config(connection), "0004")
    columns = sa.inspect(database.engine).get_columns("work_item_candidates")
    assert "shared" not in {column["name"] for column in columns}
    database.dispose()
