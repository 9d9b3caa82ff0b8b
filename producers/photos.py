"""Listing photos: checked by content (not by name), bounded to what a phone photo needs before decoding, decoded at
reduced size, re-encoded as JPEG without any metadata, thumbnailed."""

import io
import uuid
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from errors import UploadTooLarge, ValidationFailed
from producers.photo_limits import photo_slot

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# A phone camera's full frame: 12 megapixels (4032 × 3024) on most, 16 (4608 × 3456) on some. Anything larger is
# checked from its header and refused before a single pixel is decoded.
MAX_PIXELS = 16_000_000
MAX_EDGE = 8192
MAX_SIDE = 1600
THUMB_SIDE = 400
SUBDIR = "listings"
SRGB = ImageCms.createProfile("sRGB")


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


def _too_many_pixels(field, size):
    message = _(
        "This photo is %(width)d × %(height)d pixels; send one of at most %(n)d megapixels and %(edge)d pixels a side "
        "(a phone's usual photo is fine).",
        width=size[0],
        height=size[1],
        n=MAX_PIXELS // 1_000_000,
        edge=MAX_EDGE,
    )
    return ValidationFailed(message, {field: [message]})


def inspect_photo(data: bytes, field="photo") -> tuple[str, tuple[int, int]]:
    """Check an image from its header and structure alone, decoding no pixels; returns (format, (width, height)).

    :raises ValidationFailed: not a JPEG, PNG or WebP image, a corrupt one, or more pixels than a phone photo has.
    """
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise _not_an_image(field)
            width, height = probe.size
            if width < 1 or height < 1:
                raise _not_an_image(field)
            if width * height > MAX_PIXELS or max(width, height) > MAX_EDGE:
                raise _too_many_pixels(field, probe.size)
            kind = probe.format
            probe.verify()
    except ValidationFailed:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _not_an_image(field) from None
    return kind, (width, height)


def _draft_size(size, side):
    """The smallest size keeping the aspect whose longer edge is ``side``: JPEG's draft() decodes at the largest 1/2,
    1/4 or 1/8 scale that still covers it."""
    width, height = size
    scale = side / max(width, height)
    return max(1, int(width * scale)), max(1, int(height * scale))


def decode_photo(data: bytes, field="photo") -> Image.Image:
    """Decode an image checked by :func:`inspect_photo`, at no more than about twice MAX_SIDE on its longer edge.

    :raises ValidationFailed: not an image, a truncated or corrupt one, another format, or too many pixels.
    """
    inspect_photo(data, field)
    try:
        image = Image.open(io.BytesIO(data))
        if image.format == "JPEG":
            image.draft("RGB", _draft_size(image.size, MAX_SIDE))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise _not_an_image(field) from None
    factor = max(image.size) // MAX_SIDE
    if factor > 1:
        image = _reducible(image).reduce(factor)
    return image


def _reducible(image: Image.Image) -> Image.Image:
    """reduce() takes neither palettes, nor 1-bit, nor 16-bit images: widen those first, keeping transparency."""
    if image.mode == "P":
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I;16"):
        return image.convert("I")
    return image


def _to_srgb(image: Image.Image, profile: bytes | None) -> Image.Image:
    """Colours converted from an embedded ICC profile (a phone's Display P3) to sRGB, so the profile can be dropped."""
    if not profile:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(image, source, SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    profile = image.info.get("icc_profile")
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    return _to_srgb(image, profile if image.mode == "RGB" else None)


def bare_rgb(image: Image.Image) -> Image.Image:
    """The pixels alone, upright, in sRGB: no EXIF, XMP, ICC profile, comment or text chunk can ride along, because
    a fresh image carries nothing but what is pasted into it."""
    rgb = _to_rgb(image)
    bare = Image.new("RGB", rgb.size)
    bare.paste(rgb)
    return bare


def encode_jpeg(image: Image.Image, side: int, quality: int) -> bytes:
    """A JPEG of a bare image (see :func:`bare_rgb`) fitted into side × side; nothing but the pixels is written."""
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    copy.info.clear()
    out = io.BytesIO()
    copy.save(out, "JPEG", quality=quality, optimize=True, progressive=True)
    return out.getvalue()


def store_photo(upload, field="photo") -> tuple[str, str]:
    """Check, re-encode and store an upload; returns (photo file name, thumbnail file name) under photo_dir().

    The file names are random: they are the photo's name in its URL too, and cannot be guessed from anything.
    The caller records them in its transaction and calls ``discard_files`` if that transaction fails.
    :raises UploadTooLarge: over MAX_PHOTO_BYTES.
    :raises ValidationFailed: not a usable image.
    :raises PhotosBusy: this machine's photo slots stayed taken.
    """
    data = read_upload(upload, field)
    inspect_photo(data, field)
    with photo_slot():
        image = bare_rgb(decode_photo(data, field))
        photo = encode_jpeg(image, MAX_SIDE, 85)
        thumb = encode_jpeg(image, THUMB_SIDE, 80)
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
