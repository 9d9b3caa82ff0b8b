"""Listing photos: checked by content, size-limited, re-encoded without metadata, thumbnailed, stored, and shown only to
those who may see them."""

import io
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from errors import UploadTooLarge, ValidationFailed
from extensions import db
from factories import make_campaign, make_item, make_listing, make_unit, make_user
from producers import listing_photos, listings
from producers.models import Listing, ListingPhoto


def fields():
    return dict(
        name="蜂蜜",
        category="农副",
        unit="瓶",
        unit_weight_g=500,
        price_fen=6800,
        quantity=40,
        ready_on=date.today() + timedelta(days=1),
    )


def test_a_photo_is_re_encoded_as_jpeg_without_metadata_and_thumbnailed(app, upload_dir, stored_files, make_image):
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make; GPS would be dropped the same way
    big = make_image("JPEG", size=(3000, 2000), exif=exif.tobytes())
    listing = make_listing()
    owner = make_user(role="producer", producer=listing.producer)
    photo = listing_photos.add_photo(owner, listing, big)
    assert stored_files() == sorted([photo.filename, photo.thumbnail])
    with Image.open(upload_dir / "listings" / photo.filename) as stored:
        assert stored.format == "JPEG" and max(stored.size) == 1600
        assert not stored.getexif()
    with Image.open(upload_dir / "listings" / photo.thumbnail) as thumb:
        assert thumb.size == (400, 267)


def test_png_with_transparency_and_webp_are_accepted(app, stored_files, png_with_alpha, make_image):
    listing = make_listing()
    owner = make_user(role="producer", producer=listing.producer)
    listing_photos.add_photo(owner, listing, png_with_alpha)
    listing_photos.add_photo(owner, listing, make_image("WEBP"))
    assert len(stored_files()) == 4
    assert [p.position for p in listing.photos] == [0, 1]


@pytest.mark.parametrize(
    "content",
    [
        b"<?php echo 'not a photo'; ?>",
        b"GIF89a" + b"\x00" * 100,
        b"\xff\xd8\xff\xe0" + b"\x00" * 64,  # a JPEG header and nothing behind it
        "image_gif",
        "truncated_jpeg",
    ],
)
def test_fake_or_broken_images_are_refused_and_nothing_stored(app, stored_files, make_image, content):
    if content == "image_gif":
        content = make_image("GIF")
    elif content == "truncated_jpeg":
        content = make_image("JPEG", size=(800, 600))[:2000]
    listing = make_listing()
    owner = make_user(role="producer", producer=listing.producer)
    with pytest.raises(ValidationFailed) as refused:
        listing_photos.add_photo(owner, listing, content)
    assert set(refused.value.fields) == {"photo"}
    assert "JPEG" in refused.value.message
    assert stored_files() == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ListingPhoto)) == 0


def test_an_oversized_photo_is_refused_before_decoding(app, stored_files, make_image):
    app.config["MAX_PHOTO_BYTES"] = 20_000
    listing = make_listing()
    owner = make_user(role="producer", producer=listing.producer)
    noisy = Image.effect_noise((600, 600), 100).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    with pytest.raises(UploadTooLarge) as refused:
        listing_photos.add_photo(owner, listing, out.getvalue())
    assert refused.value.status == 413 and "photo" in refused.value.details["fields"]
    assert stored_files() == []


def test_a_decompression_bomb_is_refused(app, stored_files):
    # A tiny PNG that claims 20000 x 20000 pixels.
    image = Image.new("1", (20000, 20000))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    listing = make_listing()
    owner = make_user(role="producer", producer=listing.producer)
    with pytest.raises(ValidationFailed):
        listing_photos.add_photo(owner, listing, out.getvalue())
    assert stored_files() == []


def test_at_most_five_photos(app, stored_files, jpeg):
    listing = make_listing()
    owner = make_user(role="producer", producer=listing.producer)
    for _ in range(5):
        listing_photos.add_photo(owner, listing, jpeg)
    with pytest.raises(ValidationFailed) as refused:
        listing_photos.add_photo(owner, listing, jpeg)
    assert set(refused.value.fields) == {"photo"}
    assert len(stored_files()) == 10  # the sixth one's files were removed again


def test_create_with_photos_is_all_or_nothing(app, stored_files, jpeg):
    owner = make_user(role="producer")
    with pytest.raises(ValidationFailed) as refused:
        listings.create_listing(owner, photos=[jpeg, b"fake"], **fields())
    assert set(refused.value.fields) == {"photos"}
    with pytest.raises(ValidationFailed) as too_many:
        listings.create_listing(owner, photos=[jpeg] * 6, **fields())
    assert set(too_many.value.fields) == {"photos"}
    assert stored_files() == [] and db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0
    listing = listings.create_listing(owner, photos=[jpeg, jpeg], **fields())
    assert len(listing.photos) == 2 and len(stored_files()) == 4


def test_deleting_a_photo_removes_its_files(app, stored_files, jpeg):
    listing = make_listing()
    owner = make_user(role="producer", producer=listing.producer)
    photo = listing_photos.add_photo(owner, listing, jpeg)
    listing_photos.delete_photo(owner, photo)
    assert stored_files() == [] and listing.photos == []


def test_who_sees_a_photo(app, client, auth, jpeg):
    pending = make_listing(status="pending")
    owner = make_user(role="producer", producer=pending.producer)
    operator = make_user(role="operator")
    pending_photo = listing_photos.add_photo(operator, pending, jpeg)
    url = f"/producers/photos/{pending_photo.token}"

    assert client.get(url).status_code == 302  # not logged in: to the login page
    for allowed in (owner, operator):
        auth.login(allowed.phone)
        response = client.get(url)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert "private" in response.headers["Cache-Control"]
        assert client.get(url + "/thumb").status_code == 200
        assert client.get(f"/producers/photos/{pending_photo.id}").status_code == 404  # never by id
        auth.logout()

    for other in (make_user(role="buyer"), make_user(role="producer")):
        auth.login(other.phone)
        assert client.get(url).status_code == 404  # a pending listing's photo is nobody else's business
        auth.logout()
    assert client.get("/producers/photos/" + "0" * 32).status_code == 302


def test_an_approved_listing_in_no_campaign_shows_its_photos_to_nobody_else(app, client, auth, jpeg):
    listing = make_listing(status="approved")
    photo = listing_photos.add_photo(make_user(role="operator"), listing, jpeg)
    rival = make_user(role="producer")
    buyer = make_user(role="buyer")
    for other in (rival, buyer):
        auth.login(other.phone)
        assert client.get(f"/producers/photos/{photo.token}").status_code == 404
        assert client.get(f"/producers/photos/{photo.token}/thumb").status_code == 404
        auth.logout()


def test_photos_follow_the_campaign_pages_that_show_them(app, client, auth, jpeg):
    """A published campaign's page is public (even one only some units may order in), so are its photos; a listing
    in no published campaign keeps its photos to its producer and operators."""
    ours, theirs = make_unit(), make_unit()
    listing = make_listing(status="approved")
    photo = listing_photos.add_photo(make_user(role="operator"), listing, jpeg)
    campaign = make_campaign(units=[ours])
    make_item(campaign, [(listing, 10)])
    inside, outside = make_user(role="buyer", unit=ours), make_user(role="buyer", unit=theirs)

    auth.login(inside.phone)
    page = client.get(f"/c/{campaign.slug}", follow_redirects=True).get_data(as_text=True)
    assert f"/producers/photos/{photo.token}/thumb" in page
    assert client.get(f"/producers/photos/{photo.token}/thumb").status_code == 200
    auth.logout()
    auth.login(outside.phone)
    assert f"/producers/photos/{photo.token}/thumb" in client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert client.get(f"/producers/photos/{photo.token}").status_code == 200
    auth.logout()

    draft = make_campaign(status="draft")
    other_listing = make_listing(status="approved")
    draft_photo = listing_photos.add_photo(make_user(role="operator"), other_listing, jpeg)
    make_item(draft, [(other_listing, 5)])
    for viewer in (inside, make_user(role="producer")):  # not published yet; a rival producer
        auth.login(viewer.phone)
        assert client.get(f"/producers/photos/{draft_photo.token}").status_code == 404
        assert client.get(f"/producers/photos/{draft_photo.token}/thumb").status_code == 404
        auth.logout()


def test_photo_names_cannot_be_guessed_from_ids(app, jpeg):
    listing = make_listing(status="pending")
    operator = make_user(role="operator")
    photos = [listing_photos.add_photo(operator, listing, jpeg) for _ in range(3)]
    tokens = [photo.token for photo in photos]
    assert len(set(tokens)) == 3
    for photo in photos:
        assert re.fullmatch(r"[0-9a-f]{32}", photo.token) and str(photo.id) != photo.token
    assert int(tokens[1], 16) - int(tokens[0], 16) not in (1, -1)


def test_photos_by_bearer_token_for_the_mini_program(app, client, api_as, jpeg):
    listing = make_listing(status="approved")
    photo = listing_photos.add_photo(make_user(role="operator"), listing, jpeg)
    make_item(make_campaign(), [(listing, 10)])
    buyer = api_as(make_user(role="buyer"))
    response = client.get(f"/producers/photos/{photo.token}/thumb", headers={"Authorization": f"Bearer {buyer.token}"})
    assert response.status_code == 200 and response.data[:2] == b"\xff\xd8"
    outsider = api_as(make_user(role="producer"))
    elsewhere = make_listing(status="approved")
    hidden = listing_photos.add_photo(make_user(role="operator"), elsewhere, jpeg)
    response = client.get(f"/producers/photos/{hidden.token}", headers={"Authorization": f"Bearer {outsider.token}"})
    assert response.status_code == 404


def test_wrong_fields_and_a_bad_photo_are_reported_together(app, stored_files, jpeg):
    owner = make_user(role="producer")
    bad = dict(fields(), name="")
    with pytest.raises(ValidationFailed) as refused:
        listings.create_listing(owner, photos=[jpeg, b"not an image"], **bad)
    assert set(refused.value.fields) == {"name", "photos"}
    assert stored_files() == []
