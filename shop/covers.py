"""A campaign's cover photo: checked and re-encoded like a listing photo (JPEG, no metadata), kept under UPLOAD_DIR
under a random name, which is also its name in the URL."""

import re
import uuid
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from errors import NotFound
from extensions import db
from producers.photo_limits import photo_slot
from producers.photos import bare_rgb, decode_photo, encode_jpeg, inspect_photo, read_upload
from shop.catalogue import campaign_visible_to
from shop.models import Campaign

COVER_SUBDIR = "campaigns"
COVER_MAX_SIDE = 1600
COVER_NAME = re.compile(r"[0-9a-f]{32}")


def _cover_dir() -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"]) / COVER_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cover_path(campaign) -> Path | None:
    return _cover_dir() / campaign.cover_photo if campaign.cover_photo else None


def get_visible_cover(user, token) -> Campaign:
    """The campaign whose cover a URL names by its random token.

    :raises NotFound: no such cover, or a campaign the user may not see (the same answer, so nothing can be probed).
    """
    campaign = None
    if isinstance(token, str) and COVER_NAME.fullmatch(token):
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.cover_photo == f"{token}.jpg"))
    if campaign is None or not campaign_visible_to(user, campaign):
        raise NotFound(_("No such photo."))
    return campaign


def store_cover(upload) -> str:
    """Check and re-encode an uploaded cover photo (as JPEG, metadata dropped); returns its file name.

    :raises UploadTooLarge: over MAX_PHOTO_BYTES.
    :raises ValidationFailed: not a JPEG, PNG or WebP image, or more pixels than a phone photo has.
    :raises PhotosBusy: this machine's photo slots stayed taken.
    """
    data = read_upload(upload, "cover")
    inspect_photo(data, "cover")
    with photo_slot():
        content = encode_jpeg(bare_rgb(decode_photo(data, "cover")), COVER_MAX_SIDE, 85)
    name = f"{uuid.uuid4().hex}.jpg"
    (_cover_dir() / name).write_bytes(content)
    return name


def discard_cover(name) -> None:
    if name:
        (_cover_dir() / name).unlink(missing_ok=True)
