"""Work units, users, API tokens and the audit log."""

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.passwords import hash_password, password_matches
from database import Timestamps, UTCDateTime, utcnow
from extensions import db

# A cadre (驻村干部) acts for the households of one town: lists goods, confirms pick lists and deliveries, nothing else.
ROLES = ("operator", "producer", "buyer", "cadre")


class Unit(Timestamps, db.Model):
    """A work unit that buys together and receives goods at one address."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    address: Mapped[str] = mapped_column(sa.String(255))
    contact_phone: Mapped[str | None] = mapped_column(sa.String(20))

    users: Mapped[list["User"]] = relationship(back_populates="unit")


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, Timestamps, db.Model):
    """An account. Its sessions and "remember me" cookies carry ``session_token``, not the id: a new token (logout,
    a new password, deactivation) makes every cookie issued before it name nobody."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    phone: Mapped[str] = mapped_column(sa.String(20), unique=True)
    email: Mapped[str | None] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16))
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    coordinator: Mapped[bool] = mapped_column(default=False)
    producer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    active: Mapped[bool] = mapped_column(default=True)
    session_token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_session_token)
    # Reminders before a campaign closes (shop.reminders); the person turns them off on their account page or by API.
    campaign_reminders: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # A cadre's town: the only producers it may act for.
    town: Mapped[str | None] = mapped_column(sa.String(40))

    unit: Mapped[Unit | None] = relationship(back_populates="users")
    producer: Mapped["Producer | None"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint("role IN ('operator', 'producer', 'buyer', 'cadre')", name="role_known"),
        sa.CheckConstraint("(role = 'cadre') = (town IS NOT NULL)", name="town_only_for_cadres"),
        sa.CheckConstraint("role = 'producer' OR producer_id IS NULL", name="producer_only_for_producers"),
        sa.CheckConstraint("role = 'buyer' OR coordinator = false", name="coordinator_is_buyer"),
    )

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        return password_matches(self.password_hash, password)

    def get_id(self) -> str:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def is_cadre(self) -> bool:
        return self.role == "cadre"

    @property
    def is_coordinator(self) -> bool:
        return self.role == "buyer" and self.coordinator


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is kept, so a database leak reveals no usable token."""

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AuditEntry(db.Model):
    """Who changed what, and on whose behalf (a cadre entering goods for a household)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    on_behalf_of: Mapped[str | None] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(40))
    object_id: Mapped[int | None]
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    actor: Mapped[User | None] = relationship()

    __table_args__ = (sa.Index("ix_audit_entry_object", "object_type", "object_id"),)


SMS_CODE_PURPOSES = ("register", "login", "reset")


class SmsCode(db.Model):
    """A one-time code sent by SMS; only its keyed hash is kept, so a database leak reveals no usable code.

    Every request writes a row, whether or not the phone has an account (then the code is never sent), so the
    rate limits and answers are the same for both. ``requested_from`` is the client address, for the per-address limit.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20))
    purpose: Mapped[str] = mapped_column(sa.String(16))
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    requested_from: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.CheckConstraint("purpose IN ('register', 'login', 'reset')", name="purpose_known"),
        sa.Index("ix_sms_code_phone_created", "phone", "created_at"),
        sa.Index("ix_sms_code_requested_from_created", "requested_from", "created_at"),
    )


class UnitInvitation(db.Model):
    """A unit's invitation code, behind its link and QR code; rotating retires it and makes a new one.

    At most one live (not retired) invitation per unit: the partial unique index says so on both databases.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"))
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit] = relationship()

    __table_args__ = (
        sa.Index(
            "uq_unit_invitation_live",
            "unit_id",
            unique=True,
            postgresql_where=sa.text("retired_at IS NULL"),
            sqlite_where=sa.text("retired_at IS NULL"),
        ),
    )
