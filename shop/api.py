"""JSON endpoints for campaigns and their items."""

from flask_smorest import Blueprint

blp = Blueprint("shop_api", __name__, url_prefix="/api/v1", description="Campaigns and items")
