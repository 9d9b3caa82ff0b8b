"""Photos cannot take the site down or carry anything but pixels: bounded before decoding, stripped of every metadata
segment, limited per user, and decoded in the machine's photo slots."""

import io
import threading
import time
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image, ImageCms, PngImagePlugin

from extensions import db
from factories import make_listing, make_user
from producers import listing_photos
from producers.models import Listing, ListingPhoto
from producers.photo_limits import photo_slot


def listing_form(**overrides):
    data = {
        "name": "鸡蛋",
        "category": "蛋类",
        "unit": "个",
        "unit_weight_kg": "0.05",
        "price_yuan": "1.50",
        "quantity": "12000",
        "ready_on": (date.today() + timedelta(days=2)).isoformat(),
    }
    data.update(overrides)
    return data


def huge_png(side=7000) -> bytes:
    """A few kilobytes that claim 49 megapixels: cheap to send, dear to decode."""
    out = io.BytesIO()
    Image.new("1", (side, side), 1).save(out, "PNG", optimize=True)
    return out.getvalue()


def jpeg_segments(data: bytes) -> list[int]:
    """The markers of a JPEG's segments before its image data (0xFFE0 APP0 … 0xFFFE COM)."""
    assert data[:2] == b"\xff\xd8"
    markers, at = [], 2
    while at < len(data):
        assert data[at] == 0xFF
        marker = data[at + 1]
        markers.append(0xFF00 | marker)
        if marker == 0xDA:  # start of scan: the pixels follow
            break
        at += 2 + int.from_bytes(data[at + 2 : at + 4], "big")
    return markers


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_7000_pixel_png_is_refused_quickly_in_chinese_and_nothing_saved(client, auth, stored_files):
    bomb = huge_png()
    assert len(bomb) < 20_000
    user = make_user(role="producer")
    auth.login(user.phone)
    data = listing_form(photos=[(io.BytesIO(bomb), f"p{n}.png") for n in range(5)])
    started = time.process_time()
    response = client.post("/producers/listings/new", data=data, content_type="multipart/form-data")
    spent = time.process_time() - started
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "7000 × 7000" in page and "这张照片" in page and "百万像素" in page
    assert spent < 1.0, f"five refused photos cost {spent:.2f} s of CPU"
    assert count(Listing) == 0 and count(ListingPhoto) == 0 and stored_files() == []


def test_the_api_refuses_it_too(api_as, stored_files):
    listing = make_listing(status="pending")
    farmer = api_as(make_user(role="producer", producer=listing.producer))
    response = farmer.post(
        f"/listings/{listing.id}/photos",
        data={"photo": (io.BytesIO(huge_png()), "big.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "百万像素" in response.get_json()["error"]["details"]["fields"]["photo"][0]
    assert stored_files() == [] and count(ListingPhoto) == 0


def test_a_phone_photo_is_still_accepted_and_decoded_small(app, stored_files, make_image):
    listing = make_listing(status="pending")
    operator = make_user(role="operator")
    started = time.process_time()
    photo = listing_photos.add_photo(operator, listing, make_image("JPEG", size=(4032, 3024)))
    assert time.process_time() - started < 1.0
    assert sorted(stored_files()) == sorted([photo.filename, photo.thumbnail])


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "LA", "RGBA"])
def test_large_images_of_every_mode_are_shrunk_before_conversion(app, upload_dir, mode):
    source = io.BytesIO()
    Image.new(mode, (4600, 3400)).save(source, "PNG")
    photo = listing_photos.add_photo(make_user(role="operator"), make_listing(status="pending"), source.getvalue())
    with Image.open(upload_dir / "listings" / photo.filename) as stored:
        assert stored.size == (1600, 1183) and stored.mode == "RGB"


def test_no_metadata_segment_survives_in_the_photo_or_its_thumbnail(app, upload_dir, make_image):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6  # taken sideways: the pixels are turned, the tag dropped
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = io.BytesIO()
    Image.new("RGB", (900, 600), (180, 60, 20)).save(
        source,
        "JPEG",
        exif=exif.tobytes(),
        comment=b"GPS 25.12N 113.35E; owner's phone 13900000000",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">where</x:xmpmeta>',
        icc_profile=icc,
    )
    sent = source.getvalue()
    assert {0xFFFE, 0xFFE1, 0xFFE2} <= set(jpeg_segments(sent))  # the upload does carry them
    listing = make_listing(status="pending")
    photo = listing_photos.add_photo(make_user(role="operator"), listing, sent)
    for name in (photo.filename, photo.thumbnail):
        stored = (upload_dir / "listings" / name).read_bytes()
        markers = jpeg_segments(stored)
        assert 0xFFFE not in markers, "a comment survived"
        assert [m for m in markers if 0xFFE1 <= m <= 0xFFEF] == [], "an APP segment (EXIF, XMP, ICC) survived"
        assert b"GPS" not in stored and b"PhoneMaker" not in stored and b"xmpmeta" not in stored
        with Image.open(io.BytesIO(stored)) as image:
            assert image.height > image.width  # turned upright by the orientation tag
            assert "comment" not in image.info and "icc_profile" not in image.info and not image.getexif()


def test_png_text_chunks_do_not_survive(app, upload_dir):
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", "家住秀水镇某村某号")
    text.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta>where</x:xmpmeta>")
    source = io.BytesIO()
    Image.new("RGB", (500, 400), (20, 160, 20)).save(source, "PNG", pnginfo=text)
    listing = make_listing(status="pending")
    photo = listing_photos.add_photo(make_user(role="operator"), listing, source.getvalue())
    for name in (photo.filename, photo.thumbnail):
        stored = (upload_dir / "listings" / name).read_bytes()
        assert [m for m in jpeg_segments(stored) if m == 0xFFFE or 0xFFE1 <= m <= 0xFFEF] == []
        assert "秀水镇".encode() not in stored and b"xmpmeta" not in stored


def test_a_campaign_cover_is_stripped_the_same_way(app, upload_dir):
    from shop import covers

    source = io.BytesIO()
    Image.new("RGB", (800, 400), (0, 0, 200)).save(source, "JPEG", comment=b"secret note")
    name = covers.store_cover(source.getvalue())
    stored = (upload_dir / "campaigns" / name).read_bytes()
    assert b"secret note" not in stored and 0xFFFE not in jpeg_segments(stored)


def test_uploads_per_user_are_limited_with_a_clear_429(app, api_as, client, auth, jpeg):
    app.config["PHOTO_UPLOAD_RATE_LIMIT"] = "3 per minute"
    listing = make_listing(status="pending")
    owner = make_user(role="producer", producer=listing.producer)
    farmer = api_as(owner)

    def upload():
        return farmer.post(
            f"/listings/{listing.id}/photos", data={"photo": (io.BytesIO(jpeg), "a.jpg")}, content_type="multipart/form-data"
        )

    assert [upload().status_code for _ in range(3)] == [201, 201, 201]
    refused = upload()
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    error = refused.get_json()["error"]
    assert error["code"] == "rate_limited" and "您短时间内上传了很多照片" in error["message"]
    assert count(ListingPhoto) == 3

    # The same person on the page: the budget is theirs, not the endpoint's.
    auth.login(owner.phone)
    page = client.post(
        f"/producers/listings/{listing.id}/photos",
        data={"photo": (io.BytesIO(jpeg), "b.jpg")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 429 and "您短时间内上传了很多照片" in page.get_data(as_text=True)
    assert count(ListingPhoto) == 3
    # Someone else still may, and a form without photos is not counted.
    other = api_as(make_user(role="operator"))
    response = other.post(
        f"/listings/{listing.id}/photos", data={"photo": (io.BytesIO(jpeg), "c.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 201
    assert client.get(f"/producers/listings/{listing.id}/edit").status_code == 200
    auth.logout()


def test_a_listing_form_counts_each_of_its_photos(app, client, auth, jpeg):
    app.config["PHOTO_UPLOAD_RATE_LIMIT"] = "6 per minute"
    user = make_user(role="producer")
    auth.login(user.phone)
    five = listing_form(photos=[(io.BytesIO(jpeg), f"{n}.jpg") for n in range(5)])
    assert client.post("/producers/listings/new", data=five, content_type="multipart/form-data").status_code == 302
    again = listing_form(photos=[(io.BytesIO(jpeg), f"{n}.jpg") for n in range(5)])
    assert client.post("/producers/listings/new", data=again, content_type="multipart/form-data").status_code == 429
    assert count(Listing) == 1
    plain = listing_form(name="鸭蛋")
    assert client.post("/producers/listings/new", data=plain, content_type="multipart/form-data").status_code == 302


def test_while_the_photo_slots_are_taken_an_upload_waits_briefly_then_is_refused(app, api_as, jpeg, stored_files):
    app.config["PHOTO_SLOT_WAIT"] = 0.3
    listing = make_listing(status="pending")
    farmer = api_as(make_user(role="producer", producer=listing.producer))
    taken, release = threading.Event(), threading.Event()

    def hold():
        with app.app_context(), photo_slot():
            taken.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(5)
        started = time.monotonic()
        response = farmer.post(
            f"/listings/{listing.id}/photos", data={"photo": (io.BytesIO(jpeg), "a.jpg")}, content_type="multipart/form-data"
        )
        assert time.monotonic() - started < 3
        assert response.status_code == 503 and int(response.headers["Retry-After"]) > 0
        assert "照片" in response.get_json()["error"]["message"]
        assert stored_files() == [] and count(ListingPhoto) == 0
    finally:
        release.set()
        holder.join()
    response = farmer.post(
        f"/listings/{listing.id}/photos", data={"photo": (io.BytesIO(jpeg), "a.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 201
