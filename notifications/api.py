"""JSON endpoint: a user's in-app notifications."""

from flask_smorest import Blueprint

blp = Blueprint("notifications_api", __name__, url_prefix="/api/v1", description="Notifications")
