"""recusal: staff declarations of relations and interests, and recusal requests on items decided by the
petition-office head (engine/runtime/recusal.py)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recusal_declarations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("person_name", sa.String(length=100), nullable=True),
        sa.Column("unit", sa.String(length=200), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recusal_declarations_user_active", "recusal_declarations", ["user_name", "withdrawn_at"])
    op.create_table(
        "recusal_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("staff_name", sa.String(length=100), nullable=False),
        sa.Column("raised_by", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["staff_name"], ["users.name"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recusal_requests_case_staff", "recusal_requests", ["case_id", "staff_name", "status"])
    op.create_index("ix_recusal_requests_status", "recusal_requests", ["status"])


def downgrade() -> None:
    op.drop_index("ix_recusal_requests_status", table_name="recusal_requests")
    op.drop_index("ix_recusal_requests_case_staff", table_name="recusal_requests")
    op.drop_table("recusal_requests")
    op.drop_index("ix_recusal_declarations_user_active", table_name="recusal_declarations")
    op.drop_table("recusal_declarations")
