"""Photos made in memory with Pillow, and an upload folder of the test's own so stored files can be counted."""

import io

import pytest
from PIL import Image


def image_bytes(fmt="JPEG", size=(640, 480), color=(200, 40, 40), mode="RGB", exif=None) -> bytes:
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(out, fmt, **kwargs)
    return out.getvalue()


@pytest.fixture
def upload_dir(app, tmp_path):
    folder = tmp_path / "uploads"
    app.config["UPLOAD_DIR"] = str(folder)
    return folder


@pytest.fixture
def stored_files(upload_dir):
    """The photo files now on disk."""

    def files():
        folder = upload_dir / "listings"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    return files


@pytest.fixture
def jpeg():
    return image_bytes()


@pytest.fixture
def png_with_alpha():
    return image_bytes("PNG", mode="RGBA", color=(0, 128, 0, 100))


@pytest.fixture
def make_image():
    """``make_image(fmt="PNG", size=(w, h), ...)`` → the bytes of a real image."""
    return image_bytes
