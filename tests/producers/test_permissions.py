"""Nobody reads or changes another producer's data: every producer page and endpoint, tried as another producer (404),
as a buyer (403), and the operators' pages as a producer (403)."""

import io

import pytest

from factories import make_listing, make_user
from producers import listing_photos


@pytest.fixture
def victim(app, jpeg):
    """A producer with a pending listing that has a photo."""
    listing = make_listing(status="pending", name="雪毛鸡")
    owner = make_user(role="producer", producer=listing.producer)
    photo = listing_photos.add_photo(owner, listing, jpeg)
    return {"producer": listing.producer.id, "listing": listing.id, "photo": photo.id, "photo_token": photo.token}


# Pages a producer may use, for data that is someone else's: 404 for another producer.
PRODUCER_PAGES = [
    ("GET", "/producers/listings/{listing}/edit"),
    ("POST", "/producers/listings/{listing}/edit"),
    ("POST", "/producers/listings/{listing}/withdraw"),
    ("POST", "/producers/listings/{listing}/photos"),
    ("POST", "/producers/photos/{photo}/delete"),
    ("GET", "/producers/photos/{photo_token}"),
    ("GET", "/producers/photos/{photo_token}/thumb"),
]
# Operators' pages: 403 for any producer and any buyer.
OPERATOR_PAGES = [
    ("GET", "/producers/registry"),
    ("GET", "/producers/registry/new"),
    ("POST", "/producers/registry/new"),
    ("GET", "/producers/registry/{producer}"),
    ("GET", "/producers/registry/{producer}/edit"),
    ("POST", "/producers/registry/{producer}/edit"),
    ("POST", "/producers/registry/{producer}/approve"),
    ("POST", "/producers/registry/{producer}/suspend"),
    ("GET", "/producers/review"),
    ("POST", "/producers/listings/{listing}/approve"),
    ("POST", "/producers/listings/{listing}/reject"),
]
# A producer's own pages: a buyer gets 403.
OWN_PAGES = [
    ("GET", "/producers/"),
    ("GET", "/producers/profile"),
    ("POST", "/producers/profile"),
    ("GET", "/producers/listings/new"),
    ("POST", "/producers/listings/new"),
]

PRODUCER_ENDPOINTS = [
    ("GET", "/producers/{producer}"),
    ("PATCH", "/producers/{producer}"),
    ("GET", "/listings?producer_id={producer}"),
    ("GET", "/listings/{listing}"),
    ("PATCH", "/listings/{listing}"),
    ("POST", "/listings/{listing}/withdraw"),
    ("POST", "/listings/{listing}/photos"),
    ("DELETE", "/listings/{listing}/photos/{photo}"),
    ("POST", "/listings"),  # naming the other producer as producer_id
]
OPERATOR_ENDPOINTS = [
    ("POST", "/producers"),
    ("POST", "/producers/{producer}/approve"),
    ("POST", "/producers/{producer}/suspend"),
    ("POST", "/listings/{listing}/approve"),
    ("POST", "/listings/{listing}/reject"),
]
BUYER_ENDPOINTS = PRODUCER_ENDPOINTS + OPERATOR_ENDPOINTS + [("GET", "/producers"), ("GET", "/listings")]


def _page(client, method, path, jpeg):
    if method == "GET":
        return client.get(path)
    if path.endswith("/photos"):
        return client.post(path, data={"photo": (io.BytesIO(jpeg), "a.jpg")}, content_type="multipart/form-data")
    return client.post(path, data={"name": "改名", "reason": "x", "price_yuan": "1", "quantity": "1"})


def _call(api, method, path, victim, jpeg):
    if path.endswith("/photos") and method == "POST":
        return api.post(path, data={"photo": (io.BytesIO(jpeg), "a.jpg")}, content_type="multipart/form-data")
    body = {"reason": "x"} if path.endswith("/reject") else {"name": "改名"}
    if path == "/listings":
        body = {
            "producer_id": victim["producer"],
            "name": "鸡",
            "category": "禽类",
            "unit": "只",
            "price_fen": 1,
            "quantity": 1,
            "ready_on": "2030-01-01",
        }
    return getattr(api, method.lower())(path, json=body) if method in ("POST", "PATCH") else getattr(api, method.lower())(path)


def _unchanged(victim):
    from extensions import db
    from producers.models import Listing, ListingPhoto, Producer

    db.session.expire_all()
    listing = db.session.get(Listing, victim["listing"])
    assert (listing.name, listing.status) == ("雪毛鸡", "pending")
    assert db.session.get(ListingPhoto, victim["photo"]) is not None
    assert db.session.get(Producer, victim["producer"]).status == "approved"


@pytest.mark.parametrize("method,path", PRODUCER_PAGES)
def test_another_producer_gets_404_on_each_page(client, auth, victim, jpeg, method, path):
    auth.login(make_user(role="producer").phone)
    assert _page(client, method, path.format(**victim), jpeg).status_code == 404
    _unchanged(victim)


@pytest.mark.parametrize("method,path", PRODUCER_PAGES + OPERATOR_PAGES + OWN_PAGES)
def test_a_buyer_gets_403_on_each_page(client, auth, victim, jpeg, method, path):
    auth.login(make_user(role="buyer").phone)
    expected = 404 if path.startswith("/producers/photos/{photo_token}") and method == "GET" else 403
    # Photo files are the one exception: a buyer sees photos of listings in campaigns they see, others are "not found".
    assert _page(client, method, path.format(**victim), jpeg).status_code == expected
    _unchanged(victim)


@pytest.mark.parametrize("method,path", OPERATOR_PAGES)
def test_a_producer_gets_403_on_operators_pages(client, auth, victim, jpeg, method, path):
    auth.login(make_user(role="producer").phone)
    assert _page(client, method, path.format(**victim), jpeg).status_code == 403
    _unchanged(victim)


@pytest.mark.parametrize("method,path", PRODUCER_ENDPOINTS)
def test_another_producer_gets_404_on_each_endpoint(api_as, victim, jpeg, method, path):
    response = _call(api_as(make_user(role="producer")), method, path.format(**victim), victim, jpeg)
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"] == "not_found"
    _unchanged(victim)


@pytest.mark.parametrize("method,path", BUYER_ENDPOINTS)
def test_a_buyer_gets_403_on_each_endpoint(api_as, victim, jpeg, method, path):
    response = _call(api_as(make_user(role="buyer")), method, path.format(**victim), victim, jpeg)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    _unchanged(victim)


@pytest.mark.parametrize("method,path", OPERATOR_ENDPOINTS)
def test_a_producer_gets_403_on_operator_endpoints(api_as, victim, jpeg, method, path):
    response = _call(api_as(make_user(role="producer")), method, path.format(**victim), victim, jpeg)
    assert response.status_code == 403
    _unchanged(victim)


def test_without_a_token_every_endpoint_is_401(api, victim, jpeg):
    for method, path in BUYER_ENDPOINTS:
        assert _call(api, method, path.format(**victim), victim, jpeg).status_code == 401


def test_the_owner_and_an_operator_do_reach_them(client, auth, api_as, victim):
    """The same URLs work for those allowed, so the 404s and 403s above are about who asks."""
    from extensions import db
    from producers.models import Producer

    owner = make_user(role="producer", producer=db.session.get(Producer, victim["producer"]))
    auth.login(owner.phone)
    assert client.get(f"/producers/listings/{victim['listing']}/edit").status_code == 200
    assert client.get(f"/producers/photos/{victim['photo_token']}").status_code == 200
    assert api_as(owner).get(f"/listings/{victim['listing']}").status_code == 200
    operator = api_as(make_user(role="operator"))
    assert operator.get(f"/producers/{victim['producer']}").status_code == 200
    assert operator.get(f"/listings/{victim['listing']}").status_code == 200
