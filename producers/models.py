"""Producers (cooperatives, enterprises, households), their listings of unsold goods, pick-list confirmations."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import Timestamps, UTCDateTime, utcnow
from extensions import db

PRODUCER_KINDS = ("cooperative", "enterprise", "household")
PRODUCER_STATUSES = ("pending", "approved", "suspended")
LISTING_STATUSES = ("pending", "approved", "rejected", "withdrawn", "sold_out")
# How a producer's goods help poor households (扶贫产品认定): wages for work, purchase agreements, dividends.
HOUSEHOLD_LINKS = ("wages", "purchase", "dividend")
# A producer's admission (扶贫产品认定 / 832) and the kinds of certificate a listing carries.
CERTIFICATE_KINDS = ("admission", "animal_quarantine", "compliance_promise", "other")


class Producer(Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(16))
    town: Mapped[str] = mapped_column(sa.String(40), index=True)
    village: Mapped[str] = mapped_column(sa.String(80))
    phone: Mapped[str] = mapped_column(sa.String(20))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    poverty_household: Mapped[bool] = mapped_column(default=False)
    poverty_id: Mapped[str | None] = mapped_column(sa.String(40))
    linked_households: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")

    listings: Mapped[list["Listing"]] = relationship(back_populates="producer")
    admission: Mapped["Certificate | None"] = relationship(
        primaryjoin="and_(Certificate.producer_id == Producer.id, Certificate.kind == 'admission')", viewonly=True, uselist=False
    )
    households: Mapped[list["LinkedHousehold"]] = relationship(order_by="LinkedHousehold.registry_number", viewonly=True)

    __table_args__ = (
        sa.CheckConstraint("kind IN ('cooperative', 'enterprise', 'household')", name="kind_known"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'suspended')", name="status_known"),
        sa.CheckConstraint("linked_households >= 0", name="linked_households_non_negative"),
        sa.CheckConstraint("poverty_household = false OR poverty_id IS NOT NULL", name="poverty_id_given"),
    )


class Listing(Timestamps, db.Model):
    """Unsold goods a producer offers; campaigns take quantity from it through Supply rows."""

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    category: Mapped[str] = mapped_column(sa.String(40))
    variety: Mapped[str | None] = mapped_column(sa.String(80))
    unit: Mapped[str] = mapped_column(sa.String(8))
    unit_weight_g: Mapped[int | None]
    price_fen: Mapped[int]
    quantity: Mapped[int]
    quantity_committed: Mapped[int] = mapped_column(default=0)
    ready_on: Mapped[date]
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    reject_reason: Mapped[str | None] = mapped_column(sa.String(255))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    # What the same goods sell for at market (fen per sale unit), so a price above it can be questioned in review.
    reference_price_fen: Mapped[int | None]
    reference_price_note: Mapped[str | None] = mapped_column(sa.String(120))

    producer: Mapped[Producer] = relationship(back_populates="listings")
    certificates: Mapped[list["Certificate"]] = relationship(
        primaryjoin="Certificate.listing_id == Listing.id", order_by="Certificate.id", viewonly=True
    )
    photos: Mapped[list["ListingPhoto"]] = relationship(
        back_populates="listing", order_by="ListingPhoto.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("price_fen >= 0", name="price_non_negative"),
        sa.CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        sa.CheckConstraint("quantity_committed >= 0 AND quantity_committed <= quantity", name="committed_within_quantity"),
        sa.CheckConstraint("unit_weight_g IS NULL OR unit_weight_g > 0", name="unit_weight_positive"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn', 'sold_out')", name="status_known"),
        sa.CheckConstraint("reference_price_fen IS NULL OR reference_price_fen > 0", name="reference_price_positive"),
    )

    @property
    def quantity_left(self) -> int:
        return self.quantity - self.quantity_committed


class ListingPhoto(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(80), unique=True, index=True)
    thumbnail: Mapped[str] = mapped_column(sa.String(80))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="photos")

    @property
    def token(self) -> str:
        """The photo's name in its URL: the random stem of its file name, never its id."""
        return self.filename.removesuffix(".jpg")


ACK_CHANNELS = ("app", "phone")


class PicklistAck(db.Model):
    """A producer's confirmation that its pick list for a campaign will be ready.

    ``channel`` "phone": an operator or the town's cadre confirmed for a household without a smartphone, after a call;
    ``acked_by_id`` is then that person, never the producer."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"))
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    acked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    acked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(sa.String(8), default="app", server_default="app")

    acked_by: Mapped["User | None"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "producer_id"),
        sa.CheckConstraint("channel IN ('app', 'phone')", name="channel_known"),
    )


class Certificate(Timestamps, db.Model):
    """A producer's admission (kind ``admission``, no listing) or one of a listing's certificates; once expired it
    keeps the listing out of new campaigns. ``noticed_until`` is the expiry date its producer was told of."""

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    listing_id: Mapped[int | None] = mapped_column(sa.ForeignKey("listing.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(24))
    label: Mapped[str | None] = mapped_column(sa.String(60))
    number: Mapped[str] = mapped_column(sa.String(60))
    issuer: Mapped[str | None] = mapped_column(sa.String(80))
    valid_until: Mapped[date] = mapped_column(index=True)
    links: Mapped[str | None] = mapped_column(sa.String(40))
    noticed_until: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    __table_args__ = (
        sa.CheckConstraint(
            "kind IN ('admission', 'animal_quarantine', 'compliance_promise', 'other')", name="certificate_kind_known"
        ),
        sa.CheckConstraint("(kind = 'admission') = (listing_id IS NULL)", name="admission_has_no_listing"),
        sa.Index(
            "uq_certificate_one_admission",
            "producer_id",
            unique=True,
            sqlite_where=sa.text("kind = 'admission'"),
            postgresql_where=sa.text("kind = 'admission'"),
        ),
    )

    @property
    def link_list(self) -> list[str]:
        return [link for link in (self.links or "").split(",") if link]


class LinkedHousehold(Timestamps, db.Model):
    """A registered poor household (建档立卡) a cooperative or enterprise employs, buys from or pays dividends to;
    ``share_pct`` is its share of the producer's income when agreed (none given anywhere: an equal split)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    town: Mapped[str] = mapped_column(sa.String(40))
    village: Mapped[str] = mapped_column(sa.String(80))
    registry_number: Mapped[str] = mapped_column(sa.String(40))
    links: Mapped[str] = mapped_column(sa.String(40))
    share_pct: Mapped[int | None]

    __table_args__ = (
        sa.UniqueConstraint("producer_id", "registry_number"),
        sa.CheckConstraint("share_pct IS NULL OR (share_pct > 0 AND share_pct <= 100)", name="share_is_percentage"),
    )

    @property
    def link_list(self) -> list[str]:
        return [link for link in self.links.split(",") if link]
