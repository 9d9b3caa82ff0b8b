"""certificates, linked households, reference prices: a producer's admission (扶贫产品认定 / 832) and a listing's
certificates with their expiry, the poor households a cooperative is linked to, and a listing's market price

Revision ID: 0020_certificates_prices
Revises: 0016_front_door
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0020_certificates_prices'
down_revision = '0032_progress_reminders'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('listing') as batch:
        batch.add_column(sa.Column('reference_price_fen', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('reference_price_note', sa.String(length=120), nullable=True))
        batch.create_check_constraint(
            op.f('ck_listing_reference_price_positive'), 'reference_price_fen IS NULL OR reference_price_fen > 0'
        )
    op.create_table(
        'certificate',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('producer_id', sa.Integer(), nullable=False),
        sa.Column('listing_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=24), nullable=False),
        sa.Column('label', sa.String(length=60), nullable=True),
        sa.Column('number', sa.String(length=60), nullable=False),
        sa.Column('issuer', sa.String(length=80), nullable=True),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('links', sa.String(length=40), nullable=True),
        sa.Column('noticed_until', sa.Date(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('admission', 'animal_quarantine', 'compliance_promise', 'other')",
            name=op.f('ck_certificate_certificate_kind_known'),
        ),
        sa.CheckConstraint("(kind = 'admission') = (listing_id IS NULL)", name=op.f('ck_certificate_admission_has_no_listing')),
        sa.ForeignKeyConstraint(['producer_id'], ['producer.id'], name=op.f('fk_certificate_producer_id_producer')),
        sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_certificate_listing_id_listing')),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], name=op.f('fk_certificate_created_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate')),
    )
    op.create_index(op.f('ix_certificate_producer_id'), 'certificate', ['producer_id'])
    op.create_index(op.f('ix_certificate_listing_id'), 'certificate', ['listing_id'])
    op.create_index(op.f('ix_certificate_valid_until'), 'certificate', ['valid_until'])
    op.create_index(
        'uq_certificate_one_admission',
        'certificate',
        ['producer_id'],
        unique=True,
        sqlite_where=sa.text("kind = 'admission'"),
        postgresql_where=sa.text("kind = 'admission'"),
    )
    op.create_table(
        'linked_household',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('producer_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('town', sa.String(length=40), nullable=False),
        sa.Column('village', sa.String(length=80), nullable=False),
        sa.Column('registry_number', sa.String(length=40), nullable=False),
        sa.Column('links', sa.String(length=40), nullable=False),
        sa.Column('share_pct', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            'share_pct IS NULL OR (share_pct > 0 AND share_pct <= 100)', name=op.f('ck_linked_household_share_is_percentage')
        ),
        sa.ForeignKeyConstraint(['producer_id'], ['producer.id'], name=op.f('fk_linked_household_producer_id_producer')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_linked_household')),
        sa.UniqueConstraint('producer_id', 'registry_number', name=op.f('uq_linked_household_producer_id_registry_number')),
    )
    op.create_index(op.f('ix_linked_household_producer_id'), 'linked_household', ['producer_id'])


def downgrade():
    op.drop_index(op.f('ix_linked_household_producer_id'), table_name='linked_household')
    op.drop_table('linked_household')
    op.drop_index('uq_certificate_one_admission', table_name='certificate')
    op.drop_index(op.f('ix_certificate_valid_until'), table_name='certificate')
    op.drop_index(op.f('ix_certificate_listing_id'), table_name='certificate')
    op.drop_index(op.f('ix_certificate_producer_id'), table_name='certificate')
    op.drop_table('certificate')
    with op.batch_alter_table('listing') as batch:
        batch.drop_constraint(op.f('ck_listing_reference_price_positive'), type_='check')
        batch.drop_column('reference_price_note')
        batch.drop_column('reference_price_fen')
