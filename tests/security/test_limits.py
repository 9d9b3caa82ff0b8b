"""Rate limits on logging in (page and API token), and upload limits: 413 for too-large photos, sheets and bodies."""

import io

import pytest
import sqlalchemy as sa
from security.world import PEOPLE, bearer_headers, jpeg_bytes, session_client

BUYER_PHONE = PEOPLE["buyer"][1]
OVER_BODY = 16 * 1024 * 1024 + 1024  # config.MAX_CONTENT_LENGTH is 16 MB


def _big(size):
    return io.BytesIO(b"\xff" * size)


# ---------------------------------------------------------------- rate limits


def test_login_page_is_rate_limited_per_client(app, world):
    client = app.test_client()
    answers = [
        client.post("/accounts/login", data={"login": BUYER_PHONE, "password": "wrong-password"}).status_code for _ in range(10)
    ]
    assert 429 not in answers
    refused = client.post("/accounts/login", data={"login": BUYER_PHONE, "password": "password123"})
    assert refused.status_code == 429  # even the right password, once the limit is reached
    assert "请求过于频繁，请稍后再试。" in refused.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session
    other = app.test_client().post(
        "/accounts/login", data={"login": BUYER_PHONE, "password": "password123"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert other.status_code == 302  # another client address is not held back


def test_token_endpoint_is_rate_limited(app, world):
    client = app.test_client()
    for _ in range(10):
        assert client.post("/api/v1/auth/token", json={"login": BUYER_PHONE, "password": "wrong-password"}).status_code == 401
    refused = client.post("/api/v1/auth/token", json={"login": BUYER_PHONE, "password": "password123"})
    assert refused.status_code == 429
    assert refused.get_json()["error"]["code"] == "rate_limited"
    assert "token" not in refused.get_json()
    assert refused.headers.get("Retry-After")


# ---------------------------------------------------------------- upload limits


def _photo_count(listing_id):
    from extensions import db
    from producers.models import ListingPhoto

    return db.session.scalar(sa.select(sa.func.count()).select_from(ListingPhoto).where(ListingPhoto.listing_id == listing_id))


def test_photo_over_the_per_photo_limit_is_413_through_the_api(app, world):
    listing = world.ids["listing"]
    before = _photo_count(listing)
    size = app.config["MAX_PHOTO_BYTES"] + 1
    response = app.test_client().post(
        f"/api/v1/listings/{listing}/photos",
        data={"photo": (io.BytesIO(jpeg_bytes() + b"\0" * size), "big.jpg")},
        content_type="multipart/form-data",
        headers=bearer_headers(world.users["producer"]),
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    assert _photo_count(listing) == before


@pytest.mark.parametrize("via", ["api", "page"])
def test_request_body_over_16_mb_is_413_for_photos(app, world, via):
    listing = world.ids["listing"]
    before = _photo_count(listing)
    if via == "api":
        response = app.test_client().post(
            f"/api/v1/listings/{listing}/photos",
            data={"photo": (_big(OVER_BODY), "huge.jpg")},
            content_type="multipart/form-data",
            headers=bearer_headers(world.users["producer"]),
        )
        assert response.get_json()["error"]["code"] == "too_large"
    else:
        response = session_client(app, world.users["producer"]).post(
            f"/producers/listings/{listing}/photos",
            data={"photo": (_big(OVER_BODY), "huge.jpg")},
            content_type="multipart/form-data",
        )
        assert "MB" in response.get_data(as_text=True)
    assert response.status_code == 413
    assert _photo_count(listing) == before


def _unit_orders(world):
    from extensions import db
    from orders.models import Order

    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Order)
        .where(Order.campaign_id == world.ids["open"], Order.unit_id == world.ids["unit"])
    )


@pytest.mark.parametrize("size", [3 * 1024 * 1024, OVER_BODY], ids=["over-sheet-limit", "over-body-limit"])
@pytest.mark.parametrize("via", ["api", "page"])
def test_oversized_sheet_is_413_and_saves_nothing(app, world, via, size):
    before = _unit_orders(world)
    sheet = "姓名,手机号,雪毛鸡\n赵六,13700000066,1\n".encode() + b"#" * size
    if via == "api":
        response = app.test_client().post(
            f"/api/v1/campaigns/{world.ids['open']}/group-orders",
            data={"file": (io.BytesIO(sheet), "sheet.csv")},
            content_type="multipart/form-data",
            headers=bearer_headers(world.users["coordinator"]),
        )
        assert response.get_json()["error"]["code"] == "too_large"
    else:
        response = session_client(app, world.users["coordinator"]).post(
            f"/units/campaigns/{world.ids['open']}/sheet",
            data={"file": (io.BytesIO(sheet), "sheet.csv")},
            content_type="multipart/form-data",
        )
    assert response.status_code == 413
    assert _unit_orders(world) == before


def test_oversized_campaign_cover_is_413(app, world):
    response = session_client(app, world.users["operator"]).post(
        f"/campaigns/{world.ids['open']}/edit", data={"cover": (_big(OVER_BODY), "cover.jpg")}, content_type="multipart/form-data"
    )
    assert response.status_code == 413
