"""attachments on any task: their purpose, the task they came with, and the content's SHA-256

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 18:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # files stored before had one purpose: what came with the item at registration (the letter and its enclosures)
    op.add_column("attachments", sa.Column("purpose", sa.String(length=40), nullable=False,
                                           server_default="letter"))
    op.add_column("attachments", sa.Column("process_id", sa.String(length=200), nullable=True))
    op.add_column("attachments", sa.Column("bpmn_id", sa.String(length=200), nullable=True))
    op.add_column("attachments", sa.Column("task_name", sa.String(length=200), nullable=True))
    op.add_column("attachments", sa.Column("sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        for column in ("sha256", "task_name", "bpmn_id", "process_id", "purpose"):
            batch.drop_column(column)
