"""completed tasks (已办), saved queue filters and the item's urgency in the registry (engine/reads/done.py,
engine/org/saved_filters.py); earlier cases' completed tasks come from the audit log's completions, their
urgency from the case data

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 19:00:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    completed = op.create_table(
        "completed_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("bpmn_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("completed_by", sa.String(length=100), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("arrived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id"),
    )
    op.create_index("ix_completed_tasks_worker", "completed_tasks", ["completed_by", "completed_at", "id"])
    op.create_index("ix_completed_tasks_case_id", "completed_tasks", ["case_id"])
    op.create_table(
        "saved_filters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("view", sa.String(length=20), nullable=False),
        sa.Column("query", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("user_name", "name", name="uq_saved_filters_user_name"),
    )
    op.add_column("petitions", sa.Column("urgency", sa.String(length=20), nullable=True))
    _fill_in_completed_tasks(completed)
    _fill_in_urgency()


def _fill_in_completed_tasks(completed: sa.Table) -> None:
    events = sa.table("events", sa.column("case_id"), sa.column("task_id"), sa.column("process_id"),
                      sa.column("bpmn_id"), sa.column("actor"), sa.column("at", sa.DateTime(timezone=True)),
                      sa.column("kind"),
                      sa.column("payload"))
    connection = op.get_bind()
    rows = connection.execute(sa.select(events).where(events.c.kind == "complete", events.c.task_id.is_not(None),
                                                      events.c.case_id.is_not(None)).order_by(events.c.at))
    done = [{"case_id": row.case_id, "task_id": row.task_id, "process_id": row.process_id or "",
             "bpmn_id": row.bpmn_id or "", "completed_by": row.actor, "completed_at": row.at,
             "name": json.loads(row.payload).get("task") or row.bpmn_id or ""} for row in rows]
    if done:
        op.bulk_insert(completed, done)


def _fill_in_urgency() -> None:
    petitions = sa.table("petitions", sa.column("case_id"), sa.column("urgency"))
    cases = sa.table("cases", sa.column("id"), sa.column("data", sa.JSON))
    connection = op.get_bind()
    rows = connection.execute(sa.select(cases.c.id, cases.c.data).where(cases.c.id.in_(sa.select(petitions.c.case_id))))
    for case_id, data in rows.all():
        urgency = (data or {}).get("urgency")
        if isinstance(urgency, str) and urgency:
            connection.execute(sa.update(petitions).where(petitions.c.case_id == case_id).values(urgency=urgency[:20]))


def downgrade() -> None:
    op.drop_column("petitions", "urgency")
    op.drop_table("saved_filters")
    op.drop_index("ix_completed_tasks_case_id", table_name="completed_tasks")
    op.drop_index("ix_completed_tasks_worker", table_name="completed_tasks")
    op.drop_table("completed_tasks")
