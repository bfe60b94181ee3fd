"""queue order indexes: (due_at, id) after each queue's equality columns, and the candidates' `shared`
mark, so queue pages are merged index reads and counts are index range counts (engine/reads/queues.py); the
repeats' index holds only repeats

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 06:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_REPEATS_ONLY = {f"{dialect}_where": sa.text("duplicate_of_id IS NOT NULL") for dialect in ("sqlite", "postgresql")}


def upgrade() -> None:
    with op.batch_alter_table("work_item_candidates") as batch:
        batch.add_column(sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE work_item_candidates SET shared = true WHERE work_item_id IN "
               "(SELECT work_item_id FROM work_item_candidates GROUP BY work_item_id HAVING count(*) > 1)")
    op.drop_index("ix_work_item_candidates_queue", table_name="work_item_candidates")
    op.create_index("ix_work_item_candidates_queue", "work_item_candidates",
                    ["candidate", "shared", "assignee", "due_at", "work_item_id"])
    op.create_index("ix_work_item_candidates_due", "work_item_candidates", ["candidate", "due_at", "work_item_id"])
    for name, columns in (("assignee", ["assignee", "due_at", "id"]), ("department", ["department", "due_at", "id"])):
        op.drop_index(f"ix_work_items_{name}_due", table_name="work_items")
        op.create_index(f"ix_work_items_{name}_due", "work_items", columns)
    op.create_index("ix_work_items_department_assignee", "work_items", ["department", "assignee"])
    op.drop_index("ix_petitions_duplicate_of_id", table_name="petitions")
    op.create_index("ix_petitions_duplicate_of_id", "petitions", ["duplicate_of_id"], **_REPEATS_ONLY)


def downgrade() -> None:
    op.drop_index("ix_petitions_duplicate_of_id", table_name="petitions")
    op.create_index("ix_petitions_duplicate_of_id", "petitions", ["duplicate_of_id"])
    op.drop_index("ix_work_items_department_assignee", table_name="work_items")
    for name in ("assignee", "department"):
        op.drop_index(f"ix_work_items_{name}_due", table_name="work_items")
        op.create_index(f"ix_work_items_{name}_due", "work_items", [name, "due_at"])
    op.drop_index("ix_work_item_candidates_due", table_name="work_item_candidates")
    op.drop_index("ix_work_item_candidates_queue", table_name="work_item_candidates")
    op.create_index("ix_work_item_candidates_queue", "work_item_candidates",
                    ["candidate", "assignee", "due_at", "work_item_id"])
    with op.batch_alter_table("work_item_candidates") as batch:
        batch.drop_column("shared")
