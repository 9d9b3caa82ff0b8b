"""JSON endpoints after close: closing, allocations, pick lists."""

from flask_smorest import Blueprint

blp = Blueprint("fulfilment_api", __name__, url_prefix="/api/v1", description="Closing, allocations and pick lists")
