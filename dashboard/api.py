"""JSON endpoint: sales statistics."""

from flask_smorest import Blueprint

blp = Blueprint("dashboard_api", __name__, url_prefix="/api/v1", description="Sales statistics")
