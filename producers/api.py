"""JSON endpoints for producers and listings."""

from flask_smorest import Blueprint

blp = Blueprint("producers_api", __name__, url_prefix="/api/v1", description="Producers and their listings")
