"""incident resolution note: why a process owner or administrator closed an incident by hand, or why it
closed itself as stale (engine/runtime/incidents.py, engine/runtime/stale_incidents.py)

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-04 18:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("incidents", sa.Column("note", sa.Text(), nullable=True))
    op.create_index("ix_incidents_resolved_at", "incidents", ["resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_resolved_at", table_name="incidents")
    op.drop_column("incidents", "note")
