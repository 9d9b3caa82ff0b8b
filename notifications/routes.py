"""Pages: a user's notifications; operators' failed deliveries with resend."""

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from accounts.access import role_required
from extensions import db
from notifications import services
from notifications.models import Notification
from paging import page_of

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.route("/")
@login_required
def inbox():
    """The user's messages, a page at a time: the unread ones marked as new on this showing and read from then on."""
    notifications = page_of(services.inbox_query(current_user))
    new_ids = {n.id for n in notifications.items if n.read_at is None}
    services.mark_inbox_read(current_user, notifications.items)
    return render_template("notifications/inbox.html", notifications=notifications, new_ids=new_ids)


@bp.app_context_processor
def unread_messages():
    """``unread_messages()`` for the menu's badge: asked only by a page that shows a signed-in menu."""

    def count():
        return services.unread_count(current_user) if current_user.is_authenticated else 0

    return {"unread_messages": count}


@bp.route("/failed")
@role_required("operator")
def failed():
    """Messages the dispatcher gave up on after its retries, newest first, with their last error."""
    rows = page_of(services.failed_query())
    pending = db.session.scalar(sa.select(sa.func.count()).where(Notification.status == "pending"))
    return render_template("notifications/failed.html", notifications=rows, pending=pending)


@bp.route("/<int:notification_id>/resend", methods=["POST"])
@role_required("operator")
def resend(notification_id):
    notification = db.session.get(Notification, notification_id)
    if notification is None:
        abort(404)
    if notification.status != "failed":
        flash(_("This message is not failed; nothing to resend."), "info")
    else:
        services.resend(current_user, notification)
        flash(_("The message is queued to be sent again."), "success")
    return redirect(url_for("notifications.failed"))
