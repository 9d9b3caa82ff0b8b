"""front door: SMS codes (hashed) and units' invitations

Revision ID: 0016_front_door
Revises: 0014_photo_names
Create Date: 2026-12-02 00:00:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0016_front_door'
down_revision = "0014_photo_names"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sms_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('requested_from', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("purpose IN ('register', 'login', 'reset')", name=op.f('ck_sms_code_purpose_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sms_code'))
    )
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.create_index('ix_sms_code_phone_created', ['phone', 'created_at'], unique=False)
        batch_op.create_index('ix_sms_code_requested_from_created', ['requested_from', 'created_at'], unique=False)

    op.create_table('unit_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_unit_invitation_created_by_id_user')),
    sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_unit_invitation_unit_id_unit')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_invitation')),
    sa.UniqueConstraint('code', name=op.f('uq_unit_invitation_code'))
    )
    with op.batch_alter_table('unit_invitation', schema=None) as batch_op:
        batch_op.create_index('uq_unit_invitation_live', ['unit_id'], unique=True,
                              postgresql_where=sa.text('retired_at IS NULL'), sqlite_where=sa.text('retired_at IS NULL'))


def downgrade():
    with op.batch_alter_table('unit_invitation', schema=None) as batch_op:
        batch_op.drop_index('uq_unit_invitation_live')
    op.drop_table('unit_invitation')
    with op.batch_alter_table('sms_code', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_code_requested_from_created')
        batch_op.drop_index('ix_sms_code_phone_created')
    op.drop_table('sms_code')
