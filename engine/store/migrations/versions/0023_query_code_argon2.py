"""query codes: an argon2 hash with a lookup selector instead of a bare SHA-256; handovers, the secrets a
command leaves encrypted for the person running it until their next page takes them (the query code)

Codes issued before this revision were also written in clear into their cases' data, workflow state and
audit events, where every petition staff member could read them: their SHA-256 digests are cleared, so
those codes stop working, and `petition.issue_query_code` issues new ones. The clear copies in the
hash-chained events stay (see 0007).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE petitions SET query_code_hash = NULL")
    with op.batch_alter_table("petitions") as batch:
        batch.alter_column("query_code_hash", type_=sa.String(length=200), existing_type=sa.String(length=64))
        batch.add_column(sa.Column("query_code_selector", sa.String(length=8), nullable=True))
        batch.create_index("ix_petitions_query_code_selector", ["query_code_selector"])
    op.create_table(
        "handovers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=100), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "purpose", name="uq_handovers_case_purpose"),
    )
    op.create_index("ix_handovers_created_at", "handovers", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_handovers_created_at", table_name="handovers")
    op.drop_table("handovers")
    op.execute("UPDATE petitions SET query_code_hash = NULL")  # argon2 hashes do not fit, nor mean anything, there
    with op.batch_alter_table("petitions") as batch:
        batch.drop_index("ix_petitions_query_code_selector")
        batch.drop_column("query_code_selector")
        batch.alter_column("query_code_hash", type_=sa.String(length=64), existing_type=sa.String(length=200))
