"""export_job: exports too big to build inline, built by the worker and kept for a while for the operator who asked

Revision ID: 0020_pages_export_jobs
Revises: 0016_front_door
Create Date: 2026-12-02 03:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0020_pages_export_jobs'
down_revision = '0020_certificates_prices'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'export_job',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=40), nullable=False),
        sa.Column('fmt', sa.String(length=8), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('rows', sa.Integer(), nullable=True),
        sa.Column('file_path', sa.String(length=255), nullable=True),
        sa.Column('file_name', sa.String(length=120), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_export_job_status_known')),
        sa.CheckConstraint('progress BETWEEN 0 AND 100', name=op.f('ck_export_job_progress_percent')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['user.id'], name=op.f('fk_export_job_requested_by_id_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_export_job')),
    )
    op.create_index(op.f('ix_export_job_requested_by_id'), 'export_job', ['requested_by_id'], unique=False)
    op.create_index(op.f('ix_export_job_expires_at'), 'export_job', ['expires_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_export_job_expires_at'), table_name='export_job')
    op.drop_index(op.f('ix_export_job_requested_by_id'), table_name='export_job')
    op.drop_table('export_job')
