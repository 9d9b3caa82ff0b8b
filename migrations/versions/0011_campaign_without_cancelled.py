"""campaign: 'cancelled' leaves the known statuses (nothing ever wrote it; real cancellation is a later change)

SQLite cannot alter a CHECK constraint, so there the table is rebuilt in batch mode with the new one.

Revision ID: 0011_campaign_without_cancelled
Revises: 0010_buyer_order_fillfactor
Create Date: 2026-12-01 21:00:00

"""
from alembic import op


revision = '0011_campaign_without_cancelled'
down_revision = '0010_buyer_order_fillfactor'
branch_labels = None
depends_on = None

STATUSES = "'draft', 'published', 'closed', 'allocated', 'delivered', 'settled'"


def _replace_status_check(statuses):
    with op.batch_alter_table('campaign') as batch:
        batch.drop_constraint(op.f('ck_campaign_status_known'), type_='check')
        batch.create_check_constraint(op.f('ck_campaign_status_known'), f"status IN ({statuses})")


def upgrade():
    _replace_status_check(STATUSES)


def downgrade():
    _replace_status_check(STATUSES + ", 'cancelled'")
