"""open figures: open_sale, open_buyer and open_item_buyer, kept by every order of a campaign not yet pooled

Data step: the campaigns taking orders now (published or closed, not pooled) get their figures from their lines,
as `flask rebuild-figures` would compute them, so the pages can read them from the first request on.

Revision ID: 0042_open_figures
Revises: 0041_figures_pending
Create Date: 2026-12-03 10:40:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0042_open_figures'
down_revision = '0041_figures_pending'
branch_labels = None
depends_on = None

SOLD = (
    "FROM order_line ol JOIN buyer_order o ON o.id = ol.order_id JOIN campaign c ON c.id = o.campaign_id "
    "WHERE NOT ol.cancelled AND o.status <> 'cancelled' "
    "AND c.status NOT IN ('draft', 'allocated', 'delivered', 'settled')"
)


def _day(dialect):
    from database import local_zone, utcnow

    minutes = int(utcnow().astimezone(local_zone()).utcoffset().total_seconds() // 60)
    if dialect == 'postgresql':
        return f"CAST(CAST(o.created_at + INTERVAL '{minutes} minutes' AS DATE) AS VARCHAR)"
    return f"date(o.created_at, '{minutes:+d} minutes')"


def upgrade():
    op.create_table(
        'open_sale',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('grouping', sa.String(length=8), nullable=False),
        sa.Column('key', sa.String(length=16), nullable=False),
        sa.Column('quantity', sa.BigInteger(), nullable=False),
        sa.Column('revenue_fen', sa.BigInteger(), nullable=False),
        sa.Column('lines', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_open_sale_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['item_id'], ['campaign_item.id'], name=op.f('fk_open_sale_item_id_campaign_item')),
        sa.PrimaryKeyConstraint('campaign_id', 'item_id', 'grouping', 'key', name=op.f('pk_open_sale')),
    )
    op.create_table(
        'open_buyer',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('unit_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.String(length=10), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.Column('orders', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_open_buyer_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['unit_id'], ['unit.id'], name=op.f('fk_open_buyer_unit_id_unit')),
        sa.PrimaryKeyConstraint('campaign_id', 'unit_id', 'day', 'phone', name=op.f('pk_open_buyer')),
    )
    op.create_table(
        'open_item_buyer',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=20), nullable=False),
        sa.Column('lines', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_open_item_buyer_campaign_id_campaign')),
        sa.ForeignKeyConstraint(['item_id'], ['campaign_item.id'], name=op.f('fk_open_item_buyer_item_id_campaign_item')),
        sa.PrimaryKeyConstraint('campaign_id', 'item_id', 'phone', name=op.f('pk_open_item_buyer')),
    )
    day = _day(op.get_bind().dialect.name)
    for grouping, key in (('unit', 'CAST(o.unit_id AS VARCHAR)'), ('day', day)):
        op.execute(
            "INSERT INTO open_sale (campaign_id, item_id, grouping, key, quantity, revenue_fen, lines) "
            f"SELECT o.campaign_id, ol.item_id, '{grouping}', {key}, SUM(ol.quantity), "
            f"SUM(CAST(ol.quantity AS BIGINT) * ol.price_fen), COUNT(*) {SOLD} GROUP BY o.campaign_id, ol.item_id, {key}"
        )
    op.execute(
        "INSERT INTO open_buyer (campaign_id, unit_id, day, phone, orders) "
        f"SELECT o.campaign_id, o.unit_id, {day}, o.buyer_phone, COUNT(DISTINCT o.id) {SOLD} "
        f"GROUP BY o.campaign_id, o.unit_id, {day}, o.buyer_phone"
    )
    op.execute(
        "INSERT INTO open_item_buyer (campaign_id, item_id, phone, lines) "
        f"SELECT o.campaign_id, ol.item_id, o.buyer_phone, COUNT(*) {SOLD} GROUP BY o.campaign_id, ol.item_id, o.buyer_phone"
    )


def downgrade():
    op.drop_table('open_item_buyer')
    op.drop_table('open_buyer')
    op.drop_table('open_sale')
