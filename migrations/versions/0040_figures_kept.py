"""kept figures: campaign_figure, campaign_buyer and kept_campaign, written by the close and every later event

No data step: a pooled campaign without a kept_campaign row is read live, so existing databases stay correct;
`flask rebuild-figures` then keeps every pooled campaign's figures (makes the pages fast again).

Revision ID: 0040_figures_kept
Revises: 0020_pages_export_jobs
Create Date: 2026-12-02 14:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0040_figures_kept'
down_revision = '0020_pages_export_jobs'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'kept_campaign',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('kept_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_kept_campaign_campaign_id_campaign')),
        sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_kept_campaign')),
    )
    op.create_table(
        'campaign_figure',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('grouping', sa.String(length=24), nullable=False),
        sa.Column('within', sa.String(length=160), nullable=False),
        sa.Column('key', sa.String(length=160), nullable=False),
        sa.Column('label', sa.String(length=160), nullable=False),
        sa.Column('quantity', sa.BigInteger(), nullable=True),
        sa.Column('unit', sa.String(length=8), nullable=True),
        sa.Column('revenue_fen', sa.BigInteger(), nullable=False),
        sa.Column('weight_g', sa.BigInteger(), nullable=False),
        sa.Column('unweighed', sa.BigInteger(), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.Column('buyers', sa.Integer(), nullable=False),
        sa.Column('lines', sa.Integer(), nullable=False),
        sa.Column('unallocated_fen', sa.BigInteger(), nullable=False),
        sa.Column('delivered_fen', sa.BigInteger(), nullable=False),
        sa.Column('refunded_fen', sa.BigInteger(), nullable=False),
        sa.Column('completed_fen', sa.BigInteger(), nullable=False),
        sa.Column('reached', sa.Boolean(), nullable=False),
        sa.Column('pooled', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_figure_campaign_id_campaign')),
        sa.PrimaryKeyConstraint('campaign_id', 'grouping', 'within', 'key', name=op.f('pk_campaign_figure')),
    )
    op.create_table(
        'campaign_buyer',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_buyer_campaign_id_campaign')),
        sa.PrimaryKeyConstraint('campaign_id', 'phone', name=op.f('pk_campaign_buyer')),
    )


def downgrade():
    op.drop_table('campaign_buyer')
    op.drop_table('campaign_figure')
    op.drop_table('kept_campaign')
