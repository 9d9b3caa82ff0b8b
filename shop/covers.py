"""A campaign's cover photo: checked like a listing photo, re-encoded as JPEG without metadata, kept under UPLOAD_DIR."""

import io
import uuid
from pathlib import Path

from flask import current_app
from PIL import Image, ImageOps

from producers.photos import decode_photo, read_upload

COVER_SUBDIR = "campaigns"
COVER_MAX_SIDE = 1600


def _cover_dir() -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"]) / COVER_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cover_path(campaign) -> Path | None:
    return _cover_dir() / campaign.cover_photo if campaign.cover_photo else None


def store_cover(upload) -> str:
    """Check and re-encode an uploaded cover photo (as JPEG, metadata dropped); returns its file name.

    :raises UploadTooLarge: over MAX_PHOTO_BYTES.
    :raises ValidationFailed: not a JPEG, PNG or WebP image.
    """
    image = decode_photo(read_upload(upload, "cover"), "cover")
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    image.thumbnail((COVER_MAX_SIDE, COVER_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    name = f"{uuid.uuid4().hex}.jpg"
    (_cover_dir() / name).write_bytes(out.getvalue())
    return name


def discard_cover(name) -> None:
    if name:
        (_cover_dir() / name).unlink(missing_ok=True)
