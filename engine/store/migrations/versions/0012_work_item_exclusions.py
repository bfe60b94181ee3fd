"""work item exclusions: who must not take a work item by the diagram's separation of duties; the role
setting `notify_on_arrival` (engine/runtime/arrivals.py)

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 18:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_item_exclusions",
        sa.Column("work_item_id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["work_item_id"], ["work_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("work_item_id", "user_name"),
    )
    with op.batch_alter_table("roles") as batch:
        batch.add_column(sa.Column("notify_on_arrival", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("roles") as batch:
        batch.drop_column("notify_on_arrival")
    op.drop_table("work_item_exclusions")
