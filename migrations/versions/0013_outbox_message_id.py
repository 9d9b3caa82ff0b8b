"""notification.message_id: a random id every send of a row carries, so a gateway can drop a repeat

Existing rows get one each from the column's default. SQLite cannot add a column whose default is not a constant,
so there the table is rebuilt in batch mode (and its partial index made again).

Revision ID: 0013_outbox_message_id
Revises: 0019_unit_targets
Create Date: 2026-12-02 00:00:00

"""

import sqlalchemy as sa
from alembic import op


revision = "0013_outbox_message_id"
down_revision = "0019_unit_targets"
branch_labels = None
depends_on = None

NEW_MESSAGE_ID = {
    "postgresql": "replace(gen_random_uuid()::text, '-', '')",
    "sqlite": "(lower(hex(randomblob(16))))",
}


def _due_index(batch_op):
    batch_op.create_index(
        "ix_notification_due",
        ["status", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status <> 'sent'"),
        sqlite_where=sa.text("status <> 'sent'"),
    )


def upgrade():
    dialect = op.get_bind().dialect.name
    column = sa.Column("message_id", sa.String(length=32), nullable=False, server_default=sa.text(NEW_MESSAGE_ID[dialect]))
    if dialect != "sqlite":
        op.add_column("notification", column)
        return
    with op.batch_alter_table("notification", recreate="always") as batch_op:
        batch_op.drop_index("ix_notification_due")
        batch_op.add_column(column)
    with op.batch_alter_table("notification") as batch_op:
        _due_index(batch_op)


def downgrade():
    with op.batch_alter_table("notification") as batch_op:
        batch_op.drop_column("message_id")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("notification") as batch_op:
            batch_op.drop_index("ix_notification_due")
            _due_index(batch_op)
