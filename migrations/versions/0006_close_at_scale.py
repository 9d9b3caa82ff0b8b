"""close at scale: the buyers' fan-out row, and only the outbox indexes its queries use

Buyers' notices of a pooled campaign are queued as one notification_fanout row that the worker expands. The
outbox loses its user_id and producer_id indexes (nothing looks messages up by them; users and producers are
never deleted) and its due index covers only rows not yet sent (in-app rows are written as sent).

Revision ID: 0006_close_at_scale
Revises: 0005_dashboard
Create Date: 2026-11-28 16:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_close_at_scale'
down_revision = '0005_dashboard'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_fanout',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=60), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('cursor', sa.Integer(), nullable=False),
    sa.Column('recipients', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('done_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'done')", name=op.f('ck_notification_fanout_status_known')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_notification_fanout_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_fanout')),
    sa.UniqueConstraint('kind', 'subject', name=op.f('uq_notification_fanout_kind_subject'))
    )
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_user_id'))
        batch_op.drop_index(batch_op.f('ix_notification_producer_id'))
        batch_op.drop_index(batch_op.f('ix_notification_due'))
        batch_op.create_index('ix_notification_due', ['status', 'next_attempt_at'], unique=False,
                              postgresql_where=sa.text("status <> 'sent'"), sqlite_where=sa.text("status <> 'sent'"))


def downgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_due')
        batch_op.create_index(batch_op.f('ix_notification_due'), ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_producer_id'), ['producer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notification_user_id'), ['user_id'], unique=False)
    op.drop_table('notification_fanout')
