"""Listing photos: checked by content (not by name), size-limited, re-encoded as JPEG without metadata, thumbnailed."""

import io
import uuid
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from errors import UploadTooLarge, ValidationFailed

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
MAX_PIXELS = 50_000_000  # a 50-megapixel photo; larger is a decompression bomb, not a phone photo
MAX_SIDE = 1600
THUMB_SIDE = 400
SUBDIR = "listings"


def photo_dir() -> Path:
    """Where listing photos live: UPLOAD_DIR/listings."""
    folder = Path(current_app.config["UPLOAD_DIR"]) / SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_upload(upload, field="photo") -> bytes:
    """The bytes of an uploaded file (a werkzeug FileStorage, a file object or bytes), refusing more than MAX_PHOTO_BYTES.

    :raises UploadTooLarge: over the limit.
    :raises ValidationFailed: nothing was sent.
    """
    limit = current_app.config["MAX_PHOTO_BYTES"]
    if isinstance(upload, bytes | bytearray):
        data = bytes(upload)
    else:
        stream = getattr(upload, "stream", upload)
        data = stream.read(limit + 1) if stream is not None else b""
    if len(data) > limit:
        message = _("A photo may be at most %(mb)s MB.", mb=_megabytes(limit))
        raise UploadTooLarge(message, {"fields": {field: [message]}})
    if not data:
        raise ValidationFailed(_("Choose a photo to upload."), {field: [_("Choose a photo to upload.")]})
    return data


def _megabytes(n):
    value = n / (1024 * 1024)
    return f"{value:.0f}" if value >= 1 else f"{value:.2f}"


def _not_an_image(field):
    message = _("This file is not a photo we can use: send a JPEG, PNG or WebP image.")
    return ValidationFailed(message, {field: [message]})


def decode_photo(data: bytes, field="photo") -> Image.Image:
    """Open and fully decode an image, whatever its file name claims; only JPEG, PNG and WebP are accepted.

    :raises ValidationFailed: not an image, a truncated or corrupt one, another format, or absurdly many pixels.
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise _not_an_image(field)
            width, height = probe.size
            if width < 1 or height < 1 or width * height > MAX_PIXELS:
                message = _("This photo has too many pixels; send one of at most %(n)d megapixels.", n=MAX_PIXELS // 1_000_000)
                raise ValidationFailed(message, {field: [message]})
            probe.verify()
        image = Image.open(io.BytesIO(data))
        if image.format == "JPEG":
            # Decode a big JPEG at a reduced scale: faster and lighter, and we shrink it anyway.
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))
        image.load()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _not_an_image(field) from None
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, side: int, quality: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # No exif= argument: location and camera metadata are dropped.
    copy.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def store_photo(upload, field="photo") -> tuple[str, str]:
    """Check, re-encode and store an upload; returns (photo file name, thumbnail file name) under photo_dir().

    The caller records them in its transaction and calls ``discard_files`` if that transaction fails.
    :raises UploadTooLarge: over MAX_PHOTO_BYTES.
    :raises ValidationFailed: not a usable image.
    """
    data = read_upload(upload, field)
    image = _to_rgb(decode_photo(data, field))
    photo = _encode(image, MAX_SIDE, 85)
    thumb = _encode(image, THUMB_SIDE, 80)
    stem = uuid.uuid4().hex
    names = (f"{stem}.jpg", f"{stem}_t.jpg")
    folder = photo_dir()
    for name, content in zip(names, (photo, thumb), strict=True):
        (folder / name).write_bytes(content)
    return names


def discard_files(*names) -> None:
    """Remove stored photo files; missing ones are ignored."""
    folder = photo_dir()
    for name in names:
        if name:
            (folder / name).unlink(missing_ok=True)
