"""JSON endpoints for orders."""

from flask_smorest import Blueprint

blp = Blueprint("orders_api", __name__, url_prefix="/api/v1", description="Orders")
