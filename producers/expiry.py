"""The 30-day notice of a certificate about to expire: once per certificate and expiry date, whoever runs it again."""

from datetime import timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

import after_commit
from database import local_today, transaction
from extensions import db
from notifications import messages
from notifications.services import queue_notification
from producers.certificates import NOTICE_DAYS, kind_name
from producers.models import Certificate, Listing, Producer

# Producers read these by SMS: in the platform's default language, as review results.
PRODUCERS_LOCALE = "zh_CN"


def _goods(certificate):
    if certificate.listing_id is None:
        return _("all your goods")
    return _("“%(name)s”", name=db.session.get(Listing, certificate.listing_id).name)


def send_expiry_notices(today=None) -> int:
    """Tell each producer of every certificate (its admission, its listings') expiring within 30 days, or expired
    without a notice yet.

    Each certificate is claimed for its current valid-until date by a guarded UPDATE in the transaction that queues
    its message, so two sweeps at once, or a rerun, send nothing twice; a renewal (a new date) is told again.
    :param today: the local date to count from (default: today in Asia/Shanghai).
    :returns: how many certificates were newly told of.
    """
    today = today or local_today()
    due = db.session.scalars(
        sa.select(Certificate.id)
        .where(
            Certificate.valid_until <= today + timedelta(days=NOTICE_DAYS),
            sa.or_(Certificate.noticed_until.is_(None), Certificate.noticed_until != Certificate.valid_until),
        )
        .order_by(Certificate.id)
    ).all()
    told = 0
    for certificate_id in due:
        with transaction():
            claimed = db.session.execute(
                sa.update(Certificate)
                .where(
                    Certificate.id == certificate_id,
                    sa.or_(Certificate.noticed_until.is_(None), Certificate.noticed_until != Certificate.valid_until),
                )
                .values(noticed_until=Certificate.valid_until)
                .execution_options(synchronize_session=False)
            ).rowcount
            if not claimed:
                continue
            certificate = db.session.get(Certificate, certificate_id, populate_existing=True)
            producer = db.session.get(Producer, certificate.producer_id)
            with force_locale(PRODUCERS_LOCALE):
                title, body = messages.certificate_expiring(
                    kind_name(certificate),
                    certificate.number,
                    certificate.valid_until,
                    (certificate.valid_until - today).days,
                    _goods(certificate),
                )
            queue_notification(
                kind="certificate_expiring",
                subject=f"certificate:{certificate.id}:{certificate.valid_until:%Y%m%d}",
                title=str(title)[:200],
                body=str(body),
                producer=producer,
            )
            told += 1
    if told:
        after_commit.dispatch_notifications()
    return told
