"""delivery day's money and claims: village cadres, pick lists confirmed by phone, payment terms, payout reversals, payment entries,
claims (claim, claim_photo, claim_refund)

SQLite cannot alter a CHECK constraint, so there the tables are rebuilt in batch mode with the new ones.

Revision ID: 0031_claims
Revises: 0020_receipts_ledger
Create Date: 2026-12-02 03:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = "0031_claims"
down_revision = "0020_receipts_ledger"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user") as batch:
        batch.add_column(sa.Column("town", sa.String(length=40), nullable=True))
        batch.drop_constraint(op.f("ck_user_role_known"), type_="check")
        batch.create_check_constraint(op.f("ck_user_role_known"), "role IN ('operator', 'producer', 'buyer', 'cadre')")
        batch.create_check_constraint(op.f("ck_user_town_only_for_cadres"), "(role = 'cadre') = (town IS NOT NULL)")
    with op.batch_alter_table("picklist_ack") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=8), server_default="app", nullable=False))
        batch.create_check_constraint(op.f("ck_picklist_ack_channel_known"), "channel IN ('app', 'phone')")
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("payment_terms_days", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_campaign_payment_terms_known"), "payment_terms_days IS NULL OR payment_terms_days BETWEEN 0 AND 365"
        )
    with op.batch_alter_table("payout") as batch:
        batch.add_column(sa.Column("reverses_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("reason", sa.String(length=255), nullable=True))
        batch.create_foreign_key(op.f("fk_payout_reverses_id_payout"), "payout", ["reverses_id"], ["id"])
        batch.create_unique_constraint(op.f("uq_payout_reverses_id"), ["reverses_id"])
        batch.drop_constraint(op.f("ck_payout_amount_positive"), type_="check")
        batch.create_check_constraint(
            op.f("ck_payout_amount_signed"),
            "(amount_fen > 0 AND reverses_id IS NULL) OR (amount_fen < 0 AND reverses_id IS NOT NULL AND reason IS NOT NULL)",
        )
    op.create_table(
        "payment_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=True),
        sa.CheckConstraint("status IN ('paid', 'unpaid')", name=op.f("ck_payment_entry_status_known")),
        sa.CheckConstraint(
            "(status = 'paid' AND amount_fen >= 0) OR (status = 'unpaid' AND amount_fen <= 0)",
            name=op.f("ck_payment_entry_amount_signed"),
        ),
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_payment_entry_actor_id_user")),
        sa.ForeignKeyConstraint(["order_id"], ["buyer_order.id"], name=op.f("fk_payment_entry_order_id_buyer_order")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_entry")),
    )
    op.create_index(op.f("ix_payment_entry_order_id"), "payment_entry", ["order_id"], unique=False)
    op.create_table(
        "claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("filed_by_id", sa.Integer(), nullable=True),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decision_note", sa.String(length=500), nullable=True),
        sa.Column("refund_quantity", sa.Integer(), nullable=True),
        sa.Column("refund_fen", sa.Integer(), nullable=True),
        sa.Column("line_entry_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_claim_quantity_positive")),
        sa.CheckConstraint("reason IN ('short', 'damaged', 'spoiled', 'not_as_described')", name=op.f("ck_claim_reason_known")),
        sa.CheckConstraint("status IN ('open', 'refunded', 'replaced', 'rejected')", name=op.f("ck_claim_status_known")),
        sa.CheckConstraint(
            "(status = 'refunded') = (refund_fen IS NOT NULL AND refund_quantity IS NOT NULL)",
            name=op.f("ck_claim_refund_when_refunded"),
        ),
        sa.CheckConstraint("refund_fen IS NULL OR refund_fen > 0", name=op.f("ck_claim_refund_positive")),
        sa.CheckConstraint(
            "refund_quantity IS NULL OR (refund_quantity > 0 AND refund_quantity <= quantity)",
            name=op.f("ck_claim_refund_within_claim"),
        ),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name=op.f("fk_claim_campaign_id_campaign")),
        sa.ForeignKeyConstraint(["decided_by_id"], ["user.id"], name=op.f("fk_claim_decided_by_id_user")),
        sa.ForeignKeyConstraint(["filed_by_id"], ["user.id"], name=op.f("fk_claim_filed_by_id_user")),
        sa.ForeignKeyConstraint(["item_id"], ["campaign_item.id"], name=op.f("fk_claim_item_id_campaign_item")),
        sa.ForeignKeyConstraint(["line_entry_id"], ["line_entry.id"], name=op.f("fk_claim_line_entry_id_line_entry")),
        sa.ForeignKeyConstraint(["order_id"], ["buyer_order.id"], name=op.f("fk_claim_order_id_buyer_order")),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_line.id"], name=op.f("fk_claim_order_line_id_order_line")),
        sa.ForeignKeyConstraint(["producer_id"], ["producer.id"], name=op.f("fk_claim_producer_id_producer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim")),
    )
    op.create_index(op.f("ix_claim_campaign_id"), "claim", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_claim_order_id"), "claim", ["order_id"], unique=False)
    op.create_index(op.f("ix_claim_order_line_id"), "claim", ["order_line_id"], unique=False)
    op.create_index(op.f("ix_claim_status"), "claim", ["status"], unique=False)
    op.create_table(
        "claim_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=80), nullable=False),
        sa.Column("thumbnail", sa.String(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"], name=op.f("fk_claim_photo_claim_id_claim")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_photo")),
        sa.UniqueConstraint("filename", name=op.f("uq_claim_photo_filename")),
    )
    op.create_index(op.f("ix_claim_photo_claim_id"), "claim_photo", ["claim_id"], unique=False)
    op.create_table(
        "claim_refund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("producer_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_claim_refund_amount_non_negative")),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name=op.f("fk_claim_refund_campaign_id_campaign")),
        sa.ForeignKeyConstraint(["claim_id"], ["claim.id"], name=op.f("fk_claim_refund_claim_id_claim")),
        sa.ForeignKeyConstraint(["producer_id"], ["producer.id"], name=op.f("fk_claim_refund_producer_id_producer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_refund")),
        sa.UniqueConstraint("claim_id", "producer_id", name=op.f("uq_claim_refund_claim_id_producer_id")),
    )
    op.create_index(op.f("ix_claim_refund_campaign_id"), "claim_refund", ["campaign_id"], unique=False)
    op.create_index(op.f("ix_claim_refund_claim_id"), "claim_refund", ["claim_id"], unique=False)
    op.create_index(op.f("ix_claim_refund_producer_id"), "claim_refund", ["producer_id"], unique=False)


def downgrade():
    op.drop_table("claim_refund")
    op.drop_table("claim_photo")
    op.drop_table("claim")
    op.drop_index(op.f("ix_payment_entry_order_id"), table_name="payment_entry")
    op.drop_table("payment_entry")
    with op.batch_alter_table("payout") as batch:
        batch.drop_constraint(op.f("ck_payout_amount_signed"), type_="check")
        batch.create_check_constraint(op.f("ck_payout_amount_positive"), "amount_fen > 0")
        batch.drop_constraint(op.f("uq_payout_reverses_id"), type_="unique")
        batch.drop_constraint(op.f("fk_payout_reverses_id_payout"), type_="foreignkey")
        batch.drop_column("reason")
        batch.drop_column("reverses_id")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_constraint(op.f("ck_campaign_payment_terms_known"), type_="check")
        batch.drop_column("payment_terms_days")
    with op.batch_alter_table("picklist_ack") as batch:
        batch.drop_constraint(op.f("ck_picklist_ack_channel_known"), type_="check")
        batch.drop_column("channel")
    with op.batch_alter_table("user") as batch:
        batch.drop_constraint(op.f("ck_user_town_only_for_cadres"), type_="check")
        batch.drop_constraint(op.f("ck_user_role_known"), type_="check")
        batch.create_check_constraint(op.f("ck_user_role_known"), "role IN ('operator', 'producer', 'buyer')")
        batch.drop_column("town")
