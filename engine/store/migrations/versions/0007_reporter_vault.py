"""reporter vault: encrypted reporter identity per submission, its blind name index, and the key id and
nonce of encrypted attachments

Existing rows are not moved here. Attachments stored before this revision keep a NULL key id and are read
as they are until `xinfang keys rotate` encrypts them (the migration has no data key). Reporter values that
earlier commands wrote into cases.data, cases.state and events.payload stay where they are: the events are
hash-chained (rewriting them would make `xinfang audit verify` fail, and re-hashing the chain would destroy
its value as evidence), so a database with such cases must be treated as holding clear text until those
cases are destroyed.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 13:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reporter_vault",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=True),
        sa.Column("nonce", sa.LargeBinary(), nullable=True),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    op.create_index("ix_reporter_vault_case_id", "reporter_vault", ["case_id"])
    op.create_table(
        "reporter_name_tokens",
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["reporter_vault.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("record_id", "token"),
    )
    op.create_index("ix_reporter_name_tokens_token", "reporter_name_tokens", ["token"])
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("nonce", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("nonce")
        batch.drop_column("key_id")
    op.drop_index("ix_reporter_name_tokens_token", table_name="reporter_name_tokens")
    op.drop_table("reporter_name_tokens")
    op.drop_index("ix_reporter_vault_case_id", table_name="reporter_vault")
    op.drop_table("reporter_vault")
