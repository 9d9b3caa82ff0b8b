"""Pages: a user's notifications; operators' failed deliveries with resend."""

from flask import Blueprint

bp = Blueprint("notifications", __name__, url_prefix="/notifications")
