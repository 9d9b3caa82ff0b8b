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


OFFICE = {"REMOTE_ADDR": "203.0.113.7"}  # one office address: the whole unit behind its NAT or the TLS proxy


def _colleagues(count, unit_id):
    """``count`` buyers of one unit, sharing one password hash (made once: the logins below pay for the checks)."""
    from accounts.models import User
    from accounts.passwords import hash_password
    from extensions import db
    from factories import PASSWORD

    password_hash = hash_password(PASSWORD)
    users = [
        User(name=f"同事{i}", phone=f"1370000{i:04d}", role="buyer", unit_id=unit_id, password_hash=password_hash)
        for i in range(count)
    ]
    db.session.add_all(users)
    db.session.commit()
    return [user.phone for user in users]


def _log_in(app, via, login, password):
    """One attempt from the office address through a fresh client; True when it got in."""
    client = app.test_client()
    if via == "page":
        response = client.post("/accounts/login", data={"login": login, "password": password}, environ_base=OFFICE)
        return response.status_code, response.status_code == 302
    response = client.post("/api/v1/auth/token", json={"login": login, "password": password}, environ_base=OFFICE)
    return response.status_code, response.status_code == 200 and "token" in response.get_json()


def test_a_whole_unit_logs_in_from_one_address_while_an_account_under_attack_is_held_back(app, world):
    phones = _colleagues(50, world.ids["unit"])
    victim = world.users["buyer"]
    victim.email = "qian.xiaoyan@lechang.gov.cn"
    from extensions import db

    db.session.commit()
    # 15 wrong passwords for one account, by phone and by email (one account either way), page and API, from
    # the office address, with colleagues logging in between the attempts.
    attack = []
    for attempt in range(15):
        login = victim.phone if attempt % 2 else victim.email.upper()
        attack.append(_log_in(app, "page" if attempt % 3 else "api", login, f"guess-{attempt}")[0])
        assert _log_in(app, "page" if attempt % 2 else "api", phones[attempt], "password123")[1]
    assert [status for status in attack[:10] if status == 429] == []
    assert attack[10:] == [429] * 5
    # The account under attack is held back even with its right password, by phone or by email, page or API ...
    assert _log_in(app, "page", victim.phone, "password123") == (429, False)
    assert _log_in(app, "api", victim.email, "password123") == (429, False)
    # ... and from another address too: the count is the account's.
    elsewhere = app.test_client().post(
        "/accounts/login", data={"login": victim.phone, "password": "password123"}, environ_base={"REMOTE_ADDR": "10.0.0.9"}
    )
    assert elsewhere.status_code == 429
    assert "请求过于频繁，请稍后再试。" in elsewhere.get_data(as_text=True)
    # Every colleague gets in within the same minute, from the same address.
    for index, phone in enumerate(phones[15:], start=15):
        status, got_in = _log_in(app, "page" if index % 2 else "api", phone, "password123")
        assert got_in, (phone, status)


def test_wrong_logins_for_an_unknown_phone_are_held_back_alike(app, world):
    """The limit does not tell a registered phone from an unregistered one."""
    statuses = [_log_in(app, "api", "13711112222", f"guess-{i}")[0] for i in range(11)]
    assert statuses == [401] * 10 + [429]


def test_the_per_address_limit_still_holds(app, world):
    app.config["LOGIN_RATE_LIMIT"] = "5 per minute"
    phones = _colleagues(6, world.ids["unit"])
    assert [_log_in(app, "page", phone, "password123")[1] for phone in phones[:5]] == [True] * 5
    assert _log_in(app, "page", phones[5], "password123") == (429, False)
    other = app.test_client().post("/accounts/login", data={"login": phones[5], "password": "password123"})
    assert other.status_code == 302  # the account itself is not held back from another address


def _proxied_app(app, proxies):
    """An app as production would build it with ``TRUSTED_PROXIES=proxies``, on the test database."""
    from app import create_app

    return create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=app.config["REDIS_URL"],
        TRUSTED_PROXIES=proxies,
        LOGIN_RATE_LIMIT="3 per minute",
    )


def _from(proxied, phone, forwarded_for):
    response = proxied.test_client().post(
        "/api/v1/auth/token",
        json={"login": phone, "password": "password123"},
        headers={"X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
    )
    return response.status_code


@pytest.mark.parametrize("proxies", [1, 0], ids=["behind-one-proxy", "no-proxy"])
def test_x_forwarded_for_decides_the_address_only_behind_a_configured_proxy(app, world, proxies):
    from extensions import db

    phones = _colleagues(5, world.ids["unit"])
    proxied = _proxied_app(app, proxies)
    try:
        assert [_from(proxied, phone, "198.51.100.1") for phone in phones[:3]] == [200] * 3
        # The same client, forging an address before the proxy's entry: the proxy's entry is the one counted.
        assert _from(proxied, phones[3], "192.0.2.99, 198.51.100.1") == 429
        if proxies:
            assert _from(proxied, phones[3], "198.51.100.2") == 200  # another client behind the proxy
        else:
            assert _from(proxied, phones[3], "198.51.100.2") == 429  # a forged header changes nothing
    finally:
        with proxied.app_context():
            db.session.remove()
            db.engine.dispose()


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
