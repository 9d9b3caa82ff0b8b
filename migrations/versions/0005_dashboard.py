"""dashboard: delivery records, payouts, and the indexes the sales aggregates use

Revision ID: 0005_dashboard
Revises: 0001
Create Date: 2026-11-28 14:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005_dashboard'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('delivery',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=False),
    sa.Column('delivered_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_delivery_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['producer_id'], ['producer.id'], name=op.f('fk_delivery_producer_id_producer')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_delivery_recorded_by_id_user')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_delivery_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    sa.UniqueConstraint('campaign_id', 'unit_id', 'producer_id', name=op.f('uq_delivery_campaign_id_unit_id_producer_id'))
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_producer_id'), ['producer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_unit_id'), ['unit_id'], unique=False)

    op.create_table('payout',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('producer_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.Integer(), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=True),
    sa.Column('paid_at', sa.DateTime(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payout_amount_positive')),
    sa.CheckConstraint("method IN ('transfer', 'cash')", name=op.f('ck_payout_method_known')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_payout_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['producer_id'], ['producer.id'], name=op.f('fk_payout_producer_id_producer')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['user.id'], name=op.f('fk_payout_recorded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout'))
    )
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payout_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payout_producer_id'), ['producer_id'], unique=False)


def downgrade():
    with op.batch_alter_table('payout', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payout_producer_id'))
        batch_op.drop_index(batch_op.f('ix_payout_campaign_id'))
    op.drop_table('payout')

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_unit_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_producer_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_campaign_id'))
    op.drop_table('delivery')
