"""listing_photo.filename and campaign.cover_photo: unique indexes, since photos are now found by their random names

Photo URLs name a photo by the random stem of its file name instead of by its id, so the names are looked up.

Revision ID: 0014_photo_names
Revises: 0017_login_sessions
Create Date: 2026-12-02 00:00:00

"""
from alembic import op


revision = '0014_photo_names'
down_revision = "0017_login_sessions"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('listing_photo') as batch:
        batch.create_index(op.f('ix_listing_photo_filename'), ['filename'], unique=True)
    with op.batch_alter_table('campaign') as batch:
        batch.create_index(op.f('ix_campaign_cover_photo'), ['cover_photo'], unique=True)


def downgrade():
    with op.batch_alter_table('campaign') as batch:
        batch.drop_index(op.f('ix_campaign_cover_photo'))
    with op.batch_alter_table('listing_photo') as batch:
        batch.drop_index(op.f('ix_listing_photo_filename'))
