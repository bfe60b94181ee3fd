"""session tokens: a random per-user token (rotated on password change, "log out everywhere" and
deactivation), the forced change of initial passwords, and server-side login sessions, so logout ends a
session and a stolen or forged cookie is refused (engine/org/sessions.py)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:30:00
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_token", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    users = sa.table("users", sa.column("name", sa.String), sa.column("session_token", sa.String))
    connection = op.get_bind()
    for (name,) in connection.execute(sa.select(users.c.name)).all():
        connection.execute(users.update().where(users.c.name == name)
                           .values(session_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("session_token", existing_type=sa.String(length=64), nullable=False)
    op.create_table(
        "login_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("user_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_login_sessions_user_name", "login_sessions", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_login_sessions_user_name", table_name="login_sessions")
    op.drop_table("login_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
        batch.drop_column("session_token")
