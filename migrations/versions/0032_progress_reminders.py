"""campaign_reminder: reminders sent before a campaign closes, once each; user.campaign_reminders: the person's choice

Revision ID: 0032_progress_reminders
Revises: 0031_claims
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0032_progress_reminders'
down_revision = '0031_claims'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_reminders', sa.Boolean(), server_default=sa.true(), nullable=False))
    op.create_table(
        'campaign_reminder',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('below_minimum', 'not_ordered')", name=op.f('ck_campaign_reminder_kind_known')),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_campaign_reminder_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_campaign_reminder_user_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_reminder')),
        sa.UniqueConstraint('campaign_id', 'user_id', 'kind', name=op.f('uq_campaign_reminder_campaign_id_user_id_kind')),
    )
    with op.batch_alter_table('campaign_reminder', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_reminder_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('campaign_reminder', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_reminder_user_id'))
    op.drop_table('campaign_reminder')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('campaign_reminders')
