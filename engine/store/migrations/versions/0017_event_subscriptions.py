"""event subscriptions: the message and signal events cases wait for, and the business key cases are
correlated by (engine/runtime/subscriptions.py, engine/runtime/correlation.py)

Revision ID: 0017
Revises: 0010
Create Date: 2026-12-03 18:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("cases", sa.Column("business_key", sa.String(length=200), nullable=True))
    op.create_index("ix_cases_business_key", "cases", ["business_key"])
    op.create_table(
        "event_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("process_id", sa.String(length=200), nullable=False),
        sa.Column("bpmn_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_id", "kind", "name", name="uq_event_subscriptions_task"),
    )
    op.create_index("ix_event_subscriptions_name", "event_subscriptions", ["kind", "name"])
    op.create_index("ix_event_subscriptions_case_id", "event_subscriptions", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_event_subscriptions_case_id", table_name="event_subscriptions")
    op.drop_index("ix_event_subscriptions_name", table_name="event_subscriptions")
    op.drop_table("event_subscriptions")
    op.drop_index("ix_cases_business_key", table_name="cases")
    op.drop_column("cases", "business_key")
