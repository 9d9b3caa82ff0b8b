"""campaign: cancellation for real: 'cancelled' is a status again, with when and why

SQLite cannot alter a CHECK constraint, so there the table is rebuilt in batch mode with the new one.

Revision ID: 0018_campaign_cancellation
Revises: 0011_campaign_without_cancelled
Create Date: 2026-12-01 23:55:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0018_campaign_cancellation'
down_revision = '0011_campaign_without_cancelled'
branch_labels = None
depends_on = None

STATUSES = "'draft', 'published', 'closed', 'allocated', 'delivered', 'settled'"


def upgrade():
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(sa.Column('cancelled_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('cancel_reason', sa.String(length=200), nullable=True))
        batch.drop_constraint(op.f('ck_campaign_status_known'), type_='check')
        batch.create_check_constraint(op.f('ck_campaign_status_known'), f"status IN ({STATUSES}, 'cancelled')")


def downgrade():
    with op.batch_alter_table('campaign') as batch:
        batch.drop_constraint(op.f('ck_campaign_status_known'), type_='check')
        batch.create_check_constraint(op.f('ck_campaign_status_known'), f"status IN ({STATUSES})")
        batch.drop_column('cancel_reason')
        batch.drop_column('cancelled_at')
