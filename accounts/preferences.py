"""A person's own choices about their account: whether Pinbang reminds them before a campaign closes."""

from flask_babel import gettext as _

from accounts.services import record_audit
from database import transaction
from errors import ValidationFailed


def set_campaign_reminders(user, on) -> None:
    """Turn the reminders before a campaign closes (shop.reminders) on or off, for oneself; audited.

    :raises ValidationFailed: ``on`` is not a yes or no.
    """
    if not isinstance(on, bool):
        raise ValidationFailed(_("Please correct the marked fields."), {"campaign_reminders": [_("Choose on or off.")]})
    if user.campaign_reminders == on:
        return
    with transaction():
        user.campaign_reminders = on
        record_audit(user, "user.reminders.on" if on else "user.reminders.off", user)
