"""kept figures pending: kept_campaign.kept_at is empty from the pooling until the close task has kept the figures

No data step: every existing row was written with its figures, so it stays kept.

Revision ID: 0041_figures_pending
Revises: 0040_figures_kept
Create Date: 2026-12-02 19:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0041_figures_pending'
down_revision = '0040_figures_kept'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('kept_campaign') as batch_op:
        batch_op.alter_column('kept_at', existing_type=sa.DateTime(), nullable=True)


def downgrade():
    # Pending campaigns are read live; without the mark they would look kept with no rows, so forget them.
    op.execute("DELETE FROM kept_campaign WHERE kept_at IS NULL")
    with op.batch_alter_table('kept_campaign') as batch_op:
        batch_op.alter_column('kept_at', existing_type=sa.DateTime(), nullable=False)
