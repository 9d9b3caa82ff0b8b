"""A unit's invitation: a code behind a link and QR code that a coordinator shares in the unit's chat group.

Registering through it makes a buyer of the unit (accounts.registration). Rotating it retires the code, so a
link that has leaked beyond the unit stops working; the new code is shown at once.
"""

import secrets

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from accounts.models import Unit, UnitInvitation
from accounts.services import record_audit
from database import begin_write, transaction, utcnow
from errors import NotFound, ValidationFailed
from extensions import db
from units.access import visible_unit

CODE_BYTES = 9  # 12 URL-safe characters: short enough for a QR code a phone reads at a glance


def invitation_url(code) -> str:
    """The link behind the QR code, on the public address (PUBLIC_URL)."""
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/accounts/join/{code}"


def _live(unit_id):
    return db.session.scalar(
        sa.select(UnitInvitation)
        .where(UnitInvitation.unit_id == unit_id, UnitInvitation.retired_at.is_(None))
        .execution_options(populate_existing=True)
    )


def _lock_unit(unit_id) -> None:
    """Take turns on the unit's row (PostgreSQL) or the write lock (SQLite) before reading its live invitation."""
    session = db.session
    begin_write(session)
    session.execute(sa.select(Unit.id).where(Unit.id == unit_id).with_for_update())


def _new(unit_id, actor) -> UnitInvitation:
    invitation = UnitInvitation(
        unit_id=unit_id, code=secrets.token_urlsafe(CODE_BYTES), created_by_id=actor.id if actor else None
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation


def current_invitation(actor, unit_id) -> UnitInvitation:
    """The unit's live invitation, made on first use.

    :raises Forbidden: neither the unit's coordinator nor an operator.
    :raises NotFound: no such unit, or another unit (for a coordinator).
    """
    unit = visible_unit(actor, unit_id)
    invitation = _live(unit.id)
    if invitation is not None:
        return invitation
    with transaction():
        _lock_unit(unit.id)
        invitation = _live(unit.id) or _new(unit.id, actor)
    return invitation


def rotate_invitation(actor, unit_id) -> UnitInvitation:
    """Retire the unit's invitation and make a new one: the old link and QR code stop working at once.

    :raises Forbidden: neither the unit's coordinator nor an operator.
    :raises NotFound: no such unit, or another unit (for a coordinator).
    """
    unit = visible_unit(actor, unit_id)
    with transaction():
        _lock_unit(unit.id)
        old = _live(unit.id)
        if old is not None:
            old.retired_at = utcnow()
            db.session.flush()
        invitation = _new(unit.id, actor)
        record_audit(actor, "unit.invitation_rotated", unit, retired=old.id if old else None)
    return invitation


def unit_for_invitation(code, field="invite") -> Unit:
    """The unit an invitation code admits to.

    :raises ValidationFailed: an unknown code, or one replaced by a newer invitation.
    """
    code = str(code or "").strip()
    invitation = db.session.scalar(sa.select(UnitInvitation).where(UnitInvitation.code == code[:32])) if code else None
    if invitation is None:
        raise ValidationFailed(
            _("This invitation link is not valid."),
            {field: [_("This invitation link is not valid; ask your unit's coordinator for the link.")]},
        )
    if invitation.retired_at is not None:
        raise ValidationFailed(
            _("This invitation link has been replaced."),
            {
                field: [
                    _("This invitation link has been replaced by a new one; ask your unit's coordinator for the current link.")
                ]
            },
        )
    return invitation.unit


def find_unit_for_invitation(code) -> Unit:
    """As unit_for_invitation, for a page that shows the invitation: a bad code is a page not found, with the reason.

    :raises NotFound: an unknown or replaced code.
    """
    try:
        return unit_for_invitation(code)
    except ValidationFailed as error:
        raise NotFound(error.fields["invite"][0]) from None
