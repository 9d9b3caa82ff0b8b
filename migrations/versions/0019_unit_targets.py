"""unit_target: a unit's yearly reserved share (canteen and union budgets, each with its share)

Revision ID: 0019_unit_targets
Revises: 0018_campaign_cancellation
Create Date: 2026-12-02 00:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0019_unit_targets'
down_revision = '0018_campaign_cancellation'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'unit_target',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('canteen_budget_fen', sa.BigInteger(), nullable=False),
        sa.Column('canteen_share_pct', sa.Integer(), nullable=False),
        sa.Column('union_budget_fen', sa.BigInteger(), nullable=False),
        sa.Column('union_share_pct', sa.Integer(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint('canteen_budget_fen >= 0 AND union_budget_fen >= 0', name=op.f('ck_unit_target_budgets_non_negative')),
        sa.CheckConstraint(
            'canteen_share_pct BETWEEN 0 AND 100 AND union_share_pct BETWEEN 0 AND 100',
            name=op.f('ck_unit_target_shares_are_percentages'),
        ),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_target_unit_id_unit')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_unit_target_updated_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_target')),
        sa.UniqueConstraint('unit_id', 'year', name=op.f('uq_unit_target_unit_id_year')),
    )


def downgrade():
    op.drop_table('unit_target')
