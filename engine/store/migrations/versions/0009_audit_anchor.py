"""audit anchor: each event row names the scheme of its hash (1 = sha256 of content and previous hash, as
every row before this revision; 2 = HMAC-SHA256 under a key the database does not hold)

Revision ID: 0009
Revises: 0005 (0006-0008 come from parallel work; re-chain down_revision on merge)
Create Date: 2026-12-03 13:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("scheme", sa.SmallInteger(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("scheme")
