"""JSON endpoint: a user's in-app notifications."""

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from accounts.access import api_auth
from api import PageArgs, page_of, page_schema
from notifications.services import inbox_query
from plain_text import PlainText

blp = Blueprint("notifications_api", __name__, url_prefix="/api/v1", description="Notifications")


class NotificationSchema(ma.Schema):
    id = ma.fields.Int()
    kind = PlainText()
    subject = PlainText()
    title = PlainText()
    body = PlainText()
    created_at = ma.fields.DateTime()
    read_at = ma.fields.DateTime(allow_none=True)


@blp.route("/notifications")
class Notifications(MethodView):
    @api_auth()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_schema(NotificationSchema))
    def get(self, args):
        """The caller's own in-app notifications, newest first (a producer account also gets its producer's)."""
        return page_of(inbox_query(g.api_user), args["page"], args["per_page"])
