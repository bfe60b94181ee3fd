"""work item candidates: department-qualified role keys, copies of assignee and due time, one covering
index, so queues and counts read this table alone

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 10:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ITEM = "(SELECT {column} FROM work_items w WHERE w.id = work_item_candidates.work_item_id)"


def upgrade() -> None:
    with op.batch_alter_table("work_item_candidates") as batch:
        batch.drop_index("ix_work_item_candidates_candidate")
        batch.alter_column("candidate", type_=sa.String(length=200), existing_type=sa.String(length=120),
                           existing_nullable=False)
        batch.add_column(sa.Column("assignee", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(f"UPDATE work_item_candidates SET assignee = {_ITEM.format(column='assignee')}, "
               f"due_at = {_ITEM.format(column='due_at')}")
    department = _ITEM.format(column="department")
    op.execute(f"UPDATE work_item_candidates SET candidate = candidate || '@' || {department} "
               f"WHERE candidate LIKE 'role:%' AND {department} IS NOT NULL")
    op.create_index("ix_work_item_candidates_queue", "work_item_candidates",
                    ["candidate", "assignee", "due_at", "work_item_id"])


def downgrade() -> None:
    op.drop_index("ix_work_item_candidates_queue", table_name="work_item_candidates")
    position = "strpos" if op.get_bind().dialect.name == "postgresql" else "instr"
    op.execute(f"UPDATE work_item_candidates SET candidate = substr(candidate, 1, {position}(candidate, '@') - 1) "
               "WHERE candidate LIKE 'role:%@%'")
    with op.batch_alter_table("work_item_candidates") as batch:
        batch.drop_column("due_at")
        batch.drop_column("assignee")
        batch.alter_column("candidate", type_=sa.String(length=120), existing_type=sa.String(length=200),
                           existing_nullable=False)
    op.create_index("ix_work_item_candidates_candidate", "work_item_candidates", ["candidate", "work_item_id"])
