"""How much photo work one person and one machine take on: uploads per user (rate-limited), and the machine's photo
slots, so photos being decoded never hold every web worker and the CPU while buyers wait."""

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path

from flask import current_app, request
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import current_user

from accounts.access import bearer_user
from errors import PhotosBusy
from extensions import limiter

UPLOAD_SCOPE = "photo-uploads"


def _uploader() -> str:
    """Uploads count against the person (session or bearer token), whichever page or endpoint they use."""
    user = current_user if current_user.is_authenticated else bearer_user()
    return f"user:{user.id}" if user is not None else f"address:{get_remote_address()}"


def _is_sent(upload) -> bool:
    if upload.filename:
        return True
    stream = upload.stream
    position = stream.tell()
    sent = bool(stream.read(1))
    stream.seek(position)
    return sent


def photos_in_request() -> int:
    """How many files the request carries (a listing form may carry five photos, each counts)."""
    return sum(1 for key in request.files for upload in request.files.getlist(key) if _is_sent(upload))


def _limit_message() -> str:
    return _("You have uploaded many photos in a short time. Please wait a few minutes, then try again; nothing was saved.")


# Shared by every route that takes photos (listing forms, a listing's photos, campaign covers, the API), per user.
upload_limit = limiter.shared_limit(
    lambda: current_app.config["PHOTO_UPLOAD_RATE_LIMIT"],
    scope=UPLOAD_SCOPE,
    key_func=_uploader,
    methods=["POST"],
    cost=lambda: max(1, photos_in_request()),
    exempt_when=lambda: photos_in_request() == 0,
    error_message=_limit_message,
)


@contextmanager
def photo_slot():
    """Hold one of this machine's PHOTO_SLOTS while a photo is decoded and re-encoded; wait at most PHOTO_SLOT_WAIT
    seconds for one. Slots are lock files under the instance folder: the CPU they share is this machine's.

    :raises PhotosBusy: every slot stayed taken.
    """
    folder = Path(current_app.config["INSTANCE_PATH"]) / "photo-slots"
    folder.mkdir(parents=True, exist_ok=True)
    slots = max(1, int(current_app.config["PHOTO_SLOTS"]))
    deadline = time.monotonic() + float(current_app.config["PHOTO_SLOT_WAIT"])
    while True:
        for slot in range(slots):
            handle = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(handle)
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                os.close(handle)
            return
        if time.monotonic() >= deadline:
            raise PhotosBusy(_("Many photos are being processed right now. Please try again in a moment; nothing was saved."))
        time.sleep(0.05)
