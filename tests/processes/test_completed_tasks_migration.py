"""Migration 0021 fills 已办 for cases completed before it, from the audit log's completions, and the
registry's urgency from the case data; the rows match what the completing command writes today."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from chain import Chain, seed_staff

from engine.store import schema
from engine.store.models import CompletedTask, Petition


def _done(engine) -> list[tuple]:
    with engine.db.read() as session:
        rows = session.scalars(sa.select(CompletedTask).order_by(CompletedTask.completed_at, CompletedTask.task_id))
        return [(r.case_id, r.task_id, r.process_id, r.bpmn_id, r.name, r.completed_by, r.completed_at)
                for r in rows]


def test_downgrade_and_upgrade_refill_completed_tasks_and_urgency(engine, clock):
    seed_staff(engine)
    chain = Chain(engine, clock)
    chain.start(urgency="urgent")
    for bpmn_id in ("Task_classify", "Task_propose"):
        clock.advance(minutes=5)
        chain.do(bpmn_id)
    written = _done(engine)
    assert [row[3] for row in written] == ["Task_register", "Task_classify", "Task_propose"]
    with engine.db.write_engine.begin() as connection:
        command.downgrade(schema._config(connection), "0017")
    assert "completed_tasks" not in sa.inspect(engine.db.engine).get_table_names()
    schema.upgrade(engine.db)
    assert _done(engine) == written
    with engine.db.read() as session:
        assert session.scalar(sa.select(Petition.urgency).where(Petition.case_id == chain.case_id)) == "urgent"
