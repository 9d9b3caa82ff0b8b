"""Pages after close: allocations for operators, pick lists for producers."""

from flask import Blueprint

bp = Blueprint("fulfilment", __name__, url_prefix="/fulfilment")
