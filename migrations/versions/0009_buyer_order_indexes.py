"""buyer_order: drop the two indexes no query needs

Every order maintains every index of buyer_order, and the close rewrites its below-minimum orders through all of
them. ix_buyer_order_campaign_id is the first column of ix_order_campaign_phone (campaign_id, buyer_phone), which
serves every lookup by campaign as well; ix_buyer_order_status indexes four values and no query filters on status
alone (each also filters on campaign, unit, user or sheet, which have their own indexes).

Revision ID: 0009_buyer_order_indexes
Revises: 0008_close_speed
Create Date: 2026-11-28 22:10:00

"""
from alembic import op


revision = '0009_buyer_order_indexes'
down_revision = '0008_close_speed'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('buyer_order', schema=None) as batch_op:
        batch_op.drop_index('ix_buyer_order_status')
        batch_op.drop_index('ix_buyer_order_campaign_id')


def downgrade():
    with op.batch_alter_table('buyer_order', schema=None) as batch_op:
        batch_op.create_index('ix_buyer_order_campaign_id', ['campaign_id'], unique=False)
        batch_op.create_index('ix_buyer_order_status', ['status'], unique=False)
