"""petition registry: registration counters, petitions and their accused, notices

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 03:47:35.586003
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registration_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year"),
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["username"],
            ["users.name"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_notices_username_read_at", ["username", "read_at"], unique=False)

    op.create_table(
        "petitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("registration_number", sa.String(length=30), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=60), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("problem_type", sa.String(length=60), nullable=True),
        sa.Column("category", sa.String(length=60), nullable=True),
        sa.Column("route", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("real_name", sa.Boolean(), nullable=False),
        sa.Column("handling_department", sa.String(length=60), nullable=True),
        sa.Column("handling_method", sa.String(length=60), nullable=True),
        sa.Column("disposal", sa.String(length=60), nullable=True),
        sa.Column("truthfulness", sa.String(length=40), nullable=True),
        sa.Column("query_code_hash", sa.String(length=64), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("repeat_count", sa.Integer(), nullable=False),
        sa.Column("overdue_count", sa.Integer(), nullable=False),
        sa.Column("last_overdue_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retention_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["petitions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
        sa.UniqueConstraint("query_code_hash"),
        sa.UniqueConstraint("registration_number"),
    )
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_petitions_duplicate_of_id"), ["duplicate_of_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_handling_department"), ["handling_department"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_received_on"), ["received_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_petitions_status"), ["status"], unique=False)

    op.create_table(
        "petition_accused",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("petition_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("unit", sa.String(length=200), nullable=True),
        sa.Column("position_title", sa.String(length=100), nullable=True),
        sa.Column("rank", sa.String(length=40), nullable=True),
        sa.Column("region", sa.String(length=100), nullable=True),
        sa.Column("party_member", sa.Boolean(), nullable=True),
        sa.Column("supervised_person", sa.Boolean(), nullable=True),
        sa.Column("normalized_name", sa.String(length=100), nullable=True),
        sa.Column("normalized_unit", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["petition_id"], ["petitions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("petition_accused", schema=None) as batch_op:
        batch_op.create_index(
            "ix_petition_accused_normalized", ["normalized_name", "normalized_unit"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_petition_accused_petition_id"), ["petition_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("petition_accused", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_petition_accused_petition_id"))
        batch_op.drop_index("ix_petition_accused_normalized")

    op.drop_table("petition_accused")
    with op.batch_alter_table("petitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_petitions_status"))
        batch_op.drop_index(batch_op.f("ix_petitions_received_on"))
        batch_op.drop_index(batch_op.f("ix_petitions_handling_department"))
        batch_op.drop_index(batch_op.f("ix_petitions_duplicate_of_id"))

    op.drop_table("petitions")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index("ix_notices_username_read_at")
        batch_op.drop_index(batch_op.f("ix_notices_case_id"))

    op.drop_table("notices")
    op.drop_table("registration_counters")
