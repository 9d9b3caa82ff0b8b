"""Who may keep a copy of an answer: shared caches only the public results page, nobody else's pages or API answers.

- the public results page is the same for an anonymous visitor and a logged-in user (no name, no form token, no
  flashed message), sets no cookie for an anonymous visitor, and is cacheable by shared caches;
- every page a logged-in user opens and every API answer, whoever asks, carries ``Cache-Control: no-store``;
- production sends Strict-Transport-Security; development and tests (plain HTTP on 127.0.0.1) do not.
"""

import re

import pytest
from security.test_authorization_matrix import READS, TABLE
from security.world import ROLES, bearer_headers, build_world, session_client

# Answers that are files, not pages: photos stay in the browser's own (private) cache; a published campaign's QR codes,
# poster and cover are the same for everyone (shop.sharing) and may be kept by shared caches.
PRIVATE_FILES = re.compile(
    r"/(photos/[0-9a-f]{32}(/thumb)?|qr\.(png|svg)|poster\.png|covers/[0-9a-f]{32})$|^/static/|^/bootstrap/"
)


def _results(client, slug):
    response = client.get(f"/dashboard/results/{slug}")
    assert response.status_code == 200
    return response


def test_the_public_results_page_is_the_same_for_everyone_and_sets_no_cookie(csrf_app):
    world = build_world()
    anonymous = _results(csrf_app.test_client(), world.ids["done_slug"])
    assert anonymous.headers.getlist("Set-Cookie") == []
    assert anonymous.cache_control.public and anonymous.cache_control.max_age == 60
    assert "Accept-Language" in anonymous.headers["Vary"]
    page = anonymous.get_data(as_text=True)
    assert "csrf_token" not in page

    for role in ("buyer", "coordinator", "producer", "operator"):
        user = world.users[role]
        client = session_client(csrf_app, user)
        with client.session_transaction() as session:
            session["_flashes"] = [("info", "私人提醒：您的订单已确认")]
        response = _results(client, world.ids["done_slug"])
        text = response.get_data(as_text=True)
        assert user.name not in text and "csrf_token" not in text and "私人提醒" not in text, role
        # Only the "figures as of" minute may differ between the two renderings.
        as_of = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
        assert as_of.sub("", text) == as_of.sub("", page), role
        if response.headers.getlist("Set-Cookie"):
            assert not response.cache_control.public and response.cache_control.no_store, role


def test_the_results_page_offers_the_other_language_by_link(csrf_app):
    world = build_world()
    client = csrf_app.test_client()
    page = _results(client, world.ids["done_slug"]).get_data(as_text=True)
    assert f'href="/dashboard/results/{world.ids["done_slug"]}?lang=en"' in page
    english = client.get(f"/dashboard/results/{world.ids['done_slug']}?lang=en")
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert english.headers.getlist("Set-Cookie") == []


@pytest.mark.parametrize("role", [role for role in ROLES if role != "anonymous"])
def test_every_logged_in_page_and_api_answer_is_no_store(csrf_app, role):
    world = build_world()
    client = session_client(csrf_app, world.users[role])
    failures = []
    for method, rule in READS:
        path, _statuses, _extra = TABLE[(method, rule)]
        url = path.format(**world.ids)
        is_api = url.startswith("/api/")
        response = client.get(url, headers=bearer_headers(world.users[role]) if is_api else {})
        if not is_api and (rule == "/dashboard/results/<slug>" or PRIVATE_FILES.search(url.split("?")[0])):
            continue
        if not response.cache_control.no_store or response.cache_control.public:
            failures.append(f"GET {url} as {role} ({response.status_code}): {response.headers.get('Cache-Control')}")
    assert not failures, "\n".join(failures)


def test_photos_stay_out_of_shared_caches_and_a_published_campaigns_qr_code_may_be_shared(csrf_app):
    world = build_world()
    client = session_client(csrf_app, world.users["buyer"])
    photo = client.get(f"/producers/photos/{world.ids['photo_token']}")
    assert photo.status_code == 200
    assert photo.cache_control.private and not photo.cache_control.public
    qr = csrf_app.test_client().get(f"/c/{world.ids['open_slug']}/qr.png")
    assert qr.status_code == 200 and qr.cache_control.public and qr.headers.getlist("Set-Cookie") == []


def test_every_api_answer_is_no_store_whoever_asks(csrf_app):
    build_world()
    client = csrf_app.test_client()
    for url, status in (("/api/v1/me", 401), ("/api/v1/no-such", 404), ("/api/v1/openapi.json", 200)):
        response = client.get(url)
        assert response.status_code == status, url
        assert response.headers["Cache-Control"] == "no-store", url
    login_page = client.get("/accounts/login")  # an anonymous page with a form token: personal
    assert login_page.headers["Cache-Control"] == "no-store"


def test_production_sends_hsts_and_development_does_not(migrated, monkeypatch):
    from app import create_app

    monkeypatch.setenv("SECRET_KEY", "a-production-secret-for-this-test")
    monkeypatch.setenv("DATABASE_URL", migrated)
    production = create_app("production", SQLALCHEMY_DATABASE_URI=migrated)
    response = production.test_client().get("/accounts/login")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert production.test_client().get("/api/v1/me").headers["Strict-Transport-Security"].startswith("max-age=")

    testing = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated)
    assert "Strict-Transport-Security" not in testing.test_client().get("/accounts/login").headers
