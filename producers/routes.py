"""Producer pages."""

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from accounts.access import role_required
from extensions import db
from producers.models import Listing

bp = Blueprint("producers", __name__, url_prefix="/producers")


@bp.route("/")
@role_required("producer")
def home():
    """A producer's home: its own listings and what is left of each."""
    listings = db.session.scalars(
        sa.select(Listing).where(Listing.producer_id == current_user.producer_id).order_by(Listing.id.desc())
    ).all()
    return render_template("producers/home.html", producer=current_user.producer, listings=listings)
