"""user.session_token: what sessions and "remember me" cookies carry instead of the user's id

A new token on logout, a new password or deactivation makes every cookie issued before it name nobody. Existing
users get a random token each, so cookies issued before this migration (which carry the bare id) stop working once.

Revision ID: 0017_login_sessions
Revises: 0013_outbox_message_id
Create Date: 2026-12-01 23:40:00

"""
import secrets

import sqlalchemy as sa
from alembic import op


revision = '0017_login_sessions'
down_revision = "0013_outbox_message_id"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    user = sa.table('user', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(user.c.id)).all():
        connection.execute(
            sa.update(user).where(user.c.id == user_id).values(session_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_user_session_token'), ['session_token'])


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_user_session_token'), type_='unique')
        batch_op.drop_column('session_token')
