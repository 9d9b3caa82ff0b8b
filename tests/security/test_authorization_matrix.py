"""Every route and API endpoint × every role: the expected status, and no one else's data in the answer.

The table below has one row per (method, URL rule) of ``app.url_map``; a route added without a row fails
``test_every_route_has_an_expectation``. Columns are the roles of tests/security/conftest.py:

    anonymous · buyer (owns the order) · colleague (same unit, not the owner) · coordinator (of the buyer's unit)
    · producer (owns the listing, photo, pick list) · operator · other_producer · other_unit (coordinator of 乙)

The URL's objects belong to the buyer, unit 甲 and producer P. Expected: L = sent to the login page (pages) or
401 (API); 403 = wrong role; 404 = an object the caller may not see. Each row's roles run in the table's column
order against a fresh world, refusals before the allowed callers, so a refused request that changed something
would show in the allowed callers' answers. Every answer, whatever its status, is searched for the names and
phones of people the caller may not see, other producers' phones and poverty registry numbers, and other
people's order notes (xlsx answers are unzipped first).
"""

import io
from datetime import date, timedelta

import pytest
from security.world import (
    ROLES,
    bearer_headers,
    build_world,
    jpeg_bytes,
    response_text,
    secrets_hidden_from,
    session_client,
)

L = "login"

# (method, rule): (path with {placeholders}, statuses in ROLES order, request extras)
#                                                             anon buyer coll coord prod  oper oprod ounit
TABLE = {}


def row(method, rule, path, statuses, **extra):
    assert len(statuses) == len(ROLES), (method, rule)
    TABLE[(method, rule)] = (path, statuses, extra)


def _all_rules(app):
    pairs = set()
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            pairs.add((method, rule.rule))
    return pairs


def test_every_route_has_an_expectation(app):
    """A new route (or a new method on one) must get its row in TABLE before it can land."""
    routes = _all_rules(app)
    missing = sorted(routes - TABLE.keys())
    stale = sorted(TABLE.keys() - routes)
    assert not missing, f"routes without an authorization expectation: {missing}"
    assert not stale, f"expectations for routes that no longer exist: {stale}"


def _request(client, method, url, extra, headers, ids):
    kwargs = {"headers": dict(headers)}
    if "json" in extra:
        body = extra["json"]
        kwargs["json"] = body(ids) if callable(body) else body
    if "data" in extra:
        data = extra["data"](ids) if callable(extra["data"]) else extra["data"]
        kwargs["data"] = data
        kwargs["content_type"] = "multipart/form-data"
    kwargs["headers"].update(extra.get("headers", {}))
    return client.open(url, method=method, **kwargs)


def _check(response, role, expected, url):
    status = response.status_code
    location = response.headers.get("Location", "")
    if expected == L:
        if url.startswith("/api/"):
            assert status == 401, f"{role}: {status} (expected 401)"
        else:
            assert status == 302 and "/accounts/login" in location, f"{role}: {status} {location} (expected the login page)"
    else:
        assert status == expected, f"{role}: {status} (expected {expected}) {response.get_data(as_text=True)[:300]}"
        if status == 302 and role != "anonymous":
            assert "/accounts/login" not in location, f"{role} was sent to the login page"


def _ask(app, world, method, rule):
    """Every role's request for one row, in ROLES order; returns the failures."""
    path, statuses, extra = TABLE[(method, rule)]
    url = path.format(**world.ids)
    failures = []
    for role, expected in zip(ROLES, statuses, strict=True):
        user = None if role == "anonymous" else world.users[role]
        if url.startswith("/api/"):
            client, headers = app.test_client(), bearer_headers(user)
        else:
            client, headers = session_client(app, user), {}
        if extra.get("headers_for"):
            headers = {**headers, **extra["headers_for"](role)}
        response = _request(client, method, url, extra, headers, world.ids)
        try:
            _check(response, role, expected, url)
            assert response.status_code < 500, f"{role}: {response.status_code}"
            text = response_text(response)
            leaked = [marker for marker in secrets_hidden_from(role) + extra.get("absent", {}).get(role, []) if marker in text]
            assert not leaked, f"{role} sees {leaked}"
        except AssertionError as error:
            failures.append(f"{method} {url} {error}")
    return failures


# ---------------------------------------------------------------- the table

BODY = {
    "unit": {"name": "新单位", "address": "新地址"},
    "user": lambda ids: {
        "name": "新职工",
        "phone": "13700001234",
        "password": "tea-garden-2026",
        "role": "buyer",
        "unit_id": ids["unit"],
    },
    "producer": {
        "name": "新农户",
        "kind": "household",
        "town": "秀水镇",
        "village": "秀水村",
        "phone": "13700005678",
        "poverty_household": False,
    },
    "listing": lambda ids: {
        "producer_id": ids["producer"],
        "name": "天堂姜",
        "category": "蔬果",
        "unit": "斤",
        "price_fen": 800,
        "quantity": 50,
        "ready_on": (date.today() + timedelta(days=5)).isoformat(),
    },
    "campaign": {
        "title": "新活动",
        "opens_at": "2030-01-01T08:00:00+08:00",
        "closes_at": "2030-01-05T20:00:00+08:00",
        "delivery_on": "2030-01-08",
    },
    "item": lambda ids: {
        "title": "雪毛鸡二",
        "price_fen": 9800,
        "unit": "只",
        "supplies": [{"listing_id": ids["listing"], "quantity": 1}],
    },
    "lines": lambda ids: {"lines": [{"item_id": ids["item"], "quantity": 1}]},
}


# Q's pick list names only Q and its goods; P's would name P.
OTHER_PICKLIST = {"other_producer": ["秀水甲农户"], "producer": ["两江乙农户"]}


def _idempotency(role):
    return {"Idempotency-Key": f"key-{role}"}


def _sheet(ids):
    return {"file": (io.BytesIO("姓名,手机号,雪毛鸡\n赵六,13700000066,1\n".encode()), "sheet.csv")}


def _roster(ids):
    return {"file": (io.BytesIO("姓名,手机号\n赵六,13700000067\n".encode()), "roster.csv")}


def _photo(ids):
    return {"photo": (io.BytesIO(jpeg_bytes()), "p.jpg"), "photos": (io.BytesIO(jpeg_bytes()), "p.jpg")}


# fmt: off
row("GET", "/", "/", (L, 200, 200, 200, 302, 302, 302, 200))
row("POST", "/accounts/language/<lang>", "/accounts/language/en", (302, 302, 302, 302, 302, 302, 302, 302))
row("GET", "/accounts/login", "/accounts/login", (200, 302, 302, 302, 302, 302, 302, 302))
row("POST", "/accounts/login", "/accounts/login", (422, 302, 302, 302, 302, 302, 302, 302))
row("POST", "/accounts/logout", "/accounts/logout", (L, L, L, L, L, L, L, L))
row("GET", "/accounts/operator", "/accounts/operator", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/accounts/password", "/accounts/password", (L, 200, 200, 200, 200, 200, 200, 200))
row("POST", "/accounts/password", "/accounts/password", (L, 422, 422, 422, 422, 422, 422, 422))
row("GET", "/accounts/reminders", "/accounts/reminders", (L, 200, 200, 200, 200, 200, 200, 200))
row("POST", "/accounts/reminders", "/accounts/reminders", (L, 422, 422, 422, 422, 422, 422, 422))
row("GET", "/accounts/units", "/accounts/units", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/accounts/units/<int:unit_id>/edit", "/accounts/units/{unit}/edit", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/accounts/units/<int:unit_id>/edit", "/accounts/units/{unit}/edit", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/accounts/units/new", "/accounts/units/new", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/accounts/units/new", "/accounts/units/new", (L, 403, 403, 403, 403, 422, 403, 403))
row("GET", "/accounts/users", "/accounts/users", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/accounts/users/<int:user_id>/edit", "/accounts/users/{user}/edit", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/accounts/users/<int:user_id>/edit", "/accounts/users/{user}/edit", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/accounts/users/new", "/accounts/users/new", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/accounts/users/new", "/accounts/users/new", (L, 403, 403, 403, 403, 422, 403, 403))
row("POST", "/api/v1/auth/token", "/api/v1/auth/token", (401, 401, 401, 401, 401, 401, 401, 401), json={"login": "13900009002", "password": "wrong-password"})
row("DELETE", "/api/v1/auth/token", "/api/v1/auth/token", (401, 204, 204, 204, 204, 204, 204, 204))
row("GET", "/api/v1/campaigns", "/api/v1/campaigns", (401, 200, 200, 200, 200, 200, 200, 200))
row("POST", "/api/v1/campaigns", "/api/v1/campaigns", (401, 403, 403, 403, 403, 201, 403, 403), json=BODY["campaign"])
# a published campaign's catalogue is public (nothing personal in it)
row("GET", "/api/v1/campaigns/<int:campaign_id>", "/api/v1/campaigns/{open}", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/api/v1/campaigns/<int:campaign_id>/allocations", "/api/v1/campaigns/{done}/allocations", (401, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/api/v1/campaigns/<int:campaign_id>/close", "/api/v1/campaigns/{open}/close", (401, 403, 403, 403, 403, 202, 403, 403))
row("POST", "/api/v1/campaigns/<int:campaign_id>/group-orders", "/api/v1/campaigns/{open}/group-orders", (401, 403, 403, 201, 403, 403, 403, 201), data=_sheet)
row("PATCH", "/api/v1/campaigns/<int:campaign_id>", "/api/v1/campaigns/{open}", (401, 403, 403, 403, 403, 200, 403, 403), json={"title": "新标题"})
row("POST", "/api/v1/campaigns/<int:campaign_id>/cancel", "/api/v1/campaigns/{open}/cancel", (401, 403, 403, 403, 403, 200, 403, 403), json={"reason": "暴雨"})
row("POST", "/api/v1/campaigns/<int:campaign_id>/items", "/api/v1/campaigns/{open}/items", (401, 403, 403, 403, 403, 201, 403, 403), json=BODY["item"])
row("PUT", "/api/v1/items/<int:item_id>/supplies/<int:listing_id>", "/api/v1/items/{item}/supplies/{listing}", (401, 403, 403, 403, 403, 200, 403, 403), json={"quantity": 150, "reason": "破损"})
row("POST", "/api/v1/campaigns/<int:campaign_id>/orders", "/api/v1/campaigns/{open}/orders", (401, 201, 201, 201, 403, 403, 403, 201), json=BODY["lines"], headers_for=_idempotency)
row("POST", "/api/v1/campaigns/<int:campaign_id>/publish", "/api/v1/campaigns/{open}/publish", (401, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/api/v1/campaigns/<int:campaign_id>/sheet-template", "/api/v1/campaigns/{open}/sheet-template", (401, 403, 403, 200, 403, 403, 403, 200))
row("GET", "/api/v1/listings", "/api/v1/listings", (401, 403, 403, 403, 200, 200, 200, 403))
row("POST", "/api/v1/listings", "/api/v1/listings", (401, 403, 403, 403, 201, 201, 404, 403), json=BODY["listing"])
row("GET", "/api/v1/listings/<int:listing_id>", "/api/v1/listings/{listing}", (401, 403, 403, 403, 200, 200, 404, 403))
row("PATCH", "/api/v1/listings/<int:listing_id>", "/api/v1/listings/{listing}", (401, 403, 403, 403, 200, 200, 404, 403), json={"price_fen": 9900})
row("POST", "/api/v1/listings/<int:listing_id>/approve", "/api/v1/listings/{listing}/approve", (401, 403, 403, 403, 403, 409, 403, 403))
row("POST", "/api/v1/listings/<int:listing_id>/photos", "/api/v1/listings/{listing}/photos", (401, 403, 403, 403, 201, 201, 404, 403), data=_photo)
# the producer deletes its photo; it is gone (404) when the operator asks next
row("DELETE", "/api/v1/listings/<int:listing_id>/photos/<int:photo_id>", "/api/v1/listings/{listing}/photos/{photo}", (401, 403, 403, 403, 204, 404, 404, 403))
row("POST", "/api/v1/listings/<int:listing_id>/reject", "/api/v1/listings/{listing}/reject", (401, 403, 403, 403, 403, 409, 403, 403), json={"reason": "照片不清楚"})
# the listing supplies campaigns, so withdrawing it is refused (409) even for its producer
row("POST", "/api/v1/listings/<int:listing_id>/withdraw", "/api/v1/listings/{listing}/withdraw", (401, 403, 403, 403, 409, 409, 404, 403))
row("GET", "/api/v1/me", "/api/v1/me", (401, 200, 200, 200, 200, 200, 200, 200))
row("PATCH", "/api/v1/me", "/api/v1/me", (401, 200, 200, 200, 200, 200, 200, 200), json={"campaign_reminders": False})
row("GET", "/api/v1/operator/home", "/api/v1/operator/home", (401, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/api/v1/notifications", "/api/v1/notifications", (401, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/api/v1/openapi.json", "/api/v1/openapi.json", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/api/v1/orders", "/api/v1/orders", (401, 200, 200, 200, 403, 200, 403, 200))
row("GET", "/api/v1/orders/<int:order_id>", "/api/v1/orders/{order}", (401, 200, 404, 200, 404, 200, 404, 404))
row("PATCH", "/api/v1/orders/<int:order_id>", "/api/v1/orders/{order}", (401, 200, 404, 200, 403, 403, 403, 404), json=BODY["lines"])
row("POST", "/api/v1/orders/<int:order_id>/cancel", "/api/v1/orders/{order}/cancel", (401, 200, 404, 200, 403, 200, 403, 404))
row("POST", "/api/v1/orders/<int:order_id>/payment", "/api/v1/orders/{order}/payment", (401, 403, 403, 200, 403, 200, 403, 404), json={"method": "cash"})
row("DELETE", "/api/v1/orders/<int:order_id>/payment", "/api/v1/orders/{order}/payment", (401, 403, 403, 200, 403, 200, 403, 404))
row("GET", "/api/v1/producers", "/api/v1/producers", (401, 403, 403, 403, 200, 200, 200, 403))
row("POST", "/api/v1/producers", "/api/v1/producers", (401, 403, 403, 403, 403, 201, 403, 403), json=BODY["producer"])
row("GET", "/api/v1/producers/<int:producer_id>", "/api/v1/producers/{producer}", (401, 403, 403, 403, 200, 200, 404, 403))
row("PATCH", "/api/v1/producers/<int:producer_id>", "/api/v1/producers/{producer}", (401, 403, 403, 403, 200, 200, 404, 403), json={"village": "新村"})
row("POST", "/api/v1/producers/<int:producer_id>/approve", "/api/v1/producers/{producer}/approve", (401, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/api/v1/producers/<int:producer_id>/picklist", "/api/v1/producers/{producer}/picklist?campaign_id={done}", (401, 403, 403, 403, 200, 200, 404, 403))
row("POST", "/api/v1/producers/<int:producer_id>/picklist/ack", "/api/v1/producers/{producer}/picklist/ack", (401, 403, 403, 403, 200, 403, 404, 403), json=lambda ids: {"campaign_id": ids["done"]})
# Certificates and linked households (issue 17.4). P is a household: an operator listing households for it is refused (409).
_ADMISSION = {"number": "GD-832-1", "county": "乐昌市", "valid_until": "2030-01-01", "links": ["wages"]}
_certificate_numbers = iter(range(1, 10_000))
row("PUT", "/api/v1/producers/<int:producer_id>/admission", "/api/v1/producers/{producer}/admission", (401, 403, 403, 403, 200, 200, 404, 403), json=_ADMISSION)
row("GET", "/api/v1/producers/<int:producer_id>/households", "/api/v1/producers/{producer}/households", (401, 403, 403, 403, 200, 200, 404, 403))
row("POST", "/api/v1/producers/<int:producer_id>/households", "/api/v1/producers/{producer}/households", (401, 403, 403, 403, 403, 409, 403, 403), json={"name": "李四", "town": "秀水镇", "village": "秀水村", "registry_number": "GD-9001", "links": ["wages"]})
row("DELETE", "/api/v1/producers/<int:producer_id>/households/<int:household_id>", "/api/v1/producers/{producer}/households/999999", (401, 403, 403, 403, 403, 404, 403, 403), json={"reason": "录错"})
row("POST", "/api/v1/listings/<int:listing_id>/certificates", "/api/v1/listings/{listing}/certificates", (401, 403, 403, 403, 201, 201, 404, 403), json=lambda ids: {"kind": "animal_quarantine", "number": f"Q-{next(_certificate_numbers)}", "valid_until": "2030-01-01"})
row("DELETE", "/api/v1/listings/<int:listing_id>/certificates/<int:certificate_id>", "/api/v1/listings/{listing}/certificates/999999", (401, 403, 403, 403, 404, 404, 404, 403))
row("GET", "/producers/admission", "/producers/admission", (L, 403, 403, 403, 200, 404, 200, 403))
row("POST", "/producers/admission", "/producers/admission", (L, 403, 403, 403, 422, 404, 422, 403))
row("GET", "/producers/registry/<int:producer_id>/admission", "/producers/registry/{producer}/admission", (L, 403, 403, 403, 200, 200, 404, 403))
row("POST", "/producers/registry/<int:producer_id>/admission", "/producers/registry/{producer}/admission", (L, 403, 403, 403, 422, 422, 404, 403))
row("GET", "/producers/registry/<int:producer_id>/households", "/producers/registry/{producer}/households", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/producers/registry/<int:producer_id>/households", "/producers/registry/{producer}/households", (L, 403, 403, 403, 403, 422, 403, 403))
row("POST", "/producers/registry/<int:producer_id>/households/<int:household_id>/remove", "/producers/registry/{producer}/households/999999/remove", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/producers/listings/<int:listing_id>/certificates", "/producers/listings/{listing}/certificates", (L, 403, 403, 403, 200, 200, 404, 403))
row("POST", "/producers/listings/<int:listing_id>/certificates", "/producers/listings/{listing}/certificates", (L, 403, 403, 403, 422, 422, 404, 403))
row("POST", "/producers/listings/<int:listing_id>/certificates/<int:certificate_id>/remove", "/producers/listings/{listing}/certificates/999999/remove", (L, 403, 403, 403, 302, 302, 404, 403))
row("POST", "/api/v1/producers/<int:producer_id>/suspend", "/api/v1/producers/{producer}/suspend", (401, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/api/v1/deliveries/outstanding", "/api/v1/deliveries/outstanding?campaign_id={done}", (401, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/api/v1/stats/summary", "/api/v1/stats/summary?campaign_id={done}&group_by=unit", (401, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/api/v1/units", "/api/v1/units", (401, 200, 200, 200, 200, 200, 200, 200))
row("POST", "/api/v1/units", "/api/v1/units", (401, 403, 403, 403, 403, 201, 403, 403), json=BODY["unit"])
row("GET", "/api/v1/units/<int:unit_id>/targets/<int:year>", "/api/v1/units/{unit}/targets/2026", (401, 403, 403, 200, 403, 200, 403, 404))
row("PUT", "/api/v1/units/<int:unit_id>/targets/<int:year>", "/api/v1/units/{unit}/targets/2026", (401, 403, 403, 200, 403, 200, 403, 404), json={"canteen_budget_fen": 100, "canteen_share_pct": 10, "union_budget_fen": 0, "union_share_pct": 0})
row("GET", "/api/v1/units/<int:unit_id>/orders", "/api/v1/units/{unit}/orders?campaign_id={open}", (401, 403, 403, 200, 403, 200, 403, 404))
row("GET", "/api/v1/users", "/api/v1/users", (401, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/api/v1/users", "/api/v1/users", (401, 403, 403, 403, 403, 201, 403, 403), json=BODY["user"])
row("GET", "/bootstrap/static/<path:filename>", "/bootstrap/static/css/bootstrap.min.css", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/c/<slug>", "/c/{open_slug}", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/c/<slug>/cart", "/c/{open_slug}/cart", (L, 200, 200, 200, 403, 403, 403, 200))
row("POST", "/c/<slug>/cart", "/c/{open_slug}/cart", (L, 422, 422, 422, 403, 403, 403, 422))
row("POST", "/c/<slug>/cart/add", "/c/{open_slug}/cart/add", (L, 422, 422, 422, 403, 403, 403, 422))
row("GET", "/c/<slug>/poster.png", "/c/{open_slug}/poster.png", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/c/<slug>/qr.png", "/c/{open_slug}/qr.png", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/c/<slug>/qr.svg", "/c/{open_slug}/qr.svg", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/campaigns", "/campaigns", (L, 200, 200, 200, 403, 200, 403, 200))
# covers are named by random tokens; this one names none: 404 for everyone
row("GET", "/campaigns/covers/<token>", "/campaigns/covers/" + "0" * 32, (404, 404, 404, 404, 404, 404, 404, 404))
row("GET", "/campaigns/<int:campaign_id>/cancel", "/campaigns/{open}/cancel", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/campaigns/<int:campaign_id>/cancel", "/campaigns/{open}/cancel", (L, 403, 403, 403, 403, 422, 403, 403))
row("GET", "/campaigns/<int:campaign_id>/change", "/campaigns/{open}/change", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/campaigns/<int:campaign_id>/change", "/campaigns/{open}/change", (L, 403, 403, 403, 403, 422, 403, 403))
row("GET", "/campaigns/<int:campaign_id>/edit", "/campaigns/{open}/edit", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/campaigns/<int:campaign_id>/edit", "/campaigns/{open}/edit", (L, 403, 403, 403, 403, 422, 403, 403))
row("POST", "/campaigns/<int:campaign_id>/items/<int:item_id>/supply", "/campaigns/{open}/items/{item}/supply", (L, 403, 403, 403, 403, 302, 403, 403))
row("POST", "/campaigns/<int:campaign_id>/items/<int:item_id>/remove", "/campaigns/{open}/items/{item}/remove", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/campaigns/<int:campaign_id>/items/new", "/campaigns/{open}/items/new", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/campaigns/<int:campaign_id>/items/new", "/campaigns/{open}/items/new", (L, 403, 403, 403, 403, 422, 403, 403))
row("GET", "/campaigns/<int:campaign_id>/manage", "/campaigns/{open}/manage", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/campaigns/<int:campaign_id>/preview", "/campaigns/{open}/preview", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/campaigns/<int:campaign_id>/publish", "/campaigns/{open}/publish", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/campaigns/new", "/campaigns/new", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/campaigns/new", "/campaigns/new", (L, 403, 403, 403, 403, 422, 403, 403))
row("GET", "/dashboard/", "/dashboard/", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/dashboard/campaigns/<int:campaign_id>/delivery", "/dashboard/campaigns/{done}/delivery", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/dashboard/campaigns/<int:campaign_id>/delivery", "/dashboard/campaigns/{done}/delivery", (L, 403, 403, 403, 403, 302, 403, 403))
# Receipts: the unit's coordinator and operators; the operator's identical second receipt changes nothing (409).
_RECEIPT = lambda ids: {"producer_id": ids["producer"], "unit_id": ids["unit"], "lines": [{"item_id": ids["done_item"], "quantity": 1}]}  # noqa: E731
_RECEIPT_FORM = lambda ids: {"producer_id": ids["producer"], f"quantity-{ids['done_item']}": "1"}  # noqa: E731
row("POST", "/api/v1/campaigns/<int:campaign_id>/receipts", "/api/v1/campaigns/{done}/receipts", (401, 403, 403, 201, 403, 409, 403, 404), json=_RECEIPT)
row("GET", "/delivery/campaigns/<int:campaign_id>/units/<int:unit_id>", "/delivery/campaigns/{done}/units/{unit}", (L, 403, 403, 200, 403, 200, 403, 404))
row("POST", "/delivery/campaigns/<int:campaign_id>/units/<int:unit_id>", "/delivery/campaigns/{done}/units/{unit}", (L, 403, 403, 302, 403, 302, 403, 404), data=_RECEIPT_FORM)
row("GET", "/dashboard/campaigns/<int:campaign_id>/delivery/<int:unit_id>", "/dashboard/campaigns/{done}/delivery/{unit}", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/dashboard/campaigns/<int:campaign_id>/settlement", "/dashboard/campaigns/{done}/settlement", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/dashboard/campaigns/<int:campaign_id>/settlement", "/dashboard/campaigns/{done}/settlement", (L, 403, 403, 403, 403, 422, 403, 403))
# a producer sees its own statement (issue 15.5); another producer's is not found
row("GET", "/dashboard/campaigns/<int:campaign_id>/settlement/<int:producer_id>", "/dashboard/campaigns/{done}/settlement/{producer}", (L, 403, 403, 403, 200, 200, 404, 403))
row("GET", "/dashboard/export/<name>.<fmt>", "/dashboard/export/summary.xlsx?campaign_id={done}&group_by=unit", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/dashboard/outstanding", "/dashboard/outstanding", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/dashboard/exports", "/dashboard/exports", (L, 403, 403, 403, 403, 200, 403, 403))
# Export jobs are the asking operator's only (tests/dashboard/test_export_jobs.py): none exists in the world.
row("GET", "/dashboard/exports/<int:job_id>", "/dashboard/exports/999999", (L, 403, 403, 403, 403, 404, 403, 403))
row("GET", "/dashboard/exports/<int:job_id>.json", "/dashboard/exports/999999.json", (L, 403, 403, 403, 403, 404, 403, 403))
row("GET", "/dashboard/exports/<int:job_id>/file", "/dashboard/exports/999999/file", (L, 403, 403, 403, 403, 404, 403, 403))
row("POST", "/dashboard/exports/<int:job_id>/retry", "/dashboard/exports/999999/retry", (L, 403, 403, 403, 403, 404, 403, 403))
row("GET", "/dashboard/results/<slug>", "/dashboard/results/{done_slug}", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/dashboard/sales", "/dashboard/sales?campaign_id={done}&group_by=unit", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/fulfilment/", "/fulfilment/", (L, 403, 403, 403, 302, 200, 302, 403))
row("GET", "/fulfilment/campaigns/<int:campaign_id>", "/fulfilment/campaigns/{done}", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/fulfilment/campaigns/<int:campaign_id>/close", "/fulfilment/campaigns/{open}/close", (L, 403, 403, 403, 403, 200, 403, 403))
# without confirm=yes the POST only shows the question again
row("POST", "/fulfilment/campaigns/<int:campaign_id>/close", "/fulfilment/campaigns/{open}/close", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/fulfilment/picklists", "/fulfilment/picklists", (L, 403, 403, 403, 200, 403, 200, 403))
# a producer always gets its own pick list (?producer= is for operators): Q's shows none of P's lines
row("GET", "/fulfilment/picklists/<int:campaign_id>", "/fulfilment/picklists/{done}?producer={producer}", (L, 403, 403, 403, 200, 200, 200, 403), absent=OTHER_PICKLIST)
row("GET", "/fulfilment/picklists/<int:campaign_id>.xlsx", "/fulfilment/picklists/{done}.xlsx?producer={producer}", (L, 403, 403, 403, 200, 200, 200, 403), absent=OTHER_PICKLIST)
row("POST", "/fulfilment/picklists/<int:campaign_id>/ack", "/fulfilment/picklists/{done}/ack", (L, 403, 403, 403, 302, 403, 302, 403))
row("GET", "/fulfilment/picklists/<int:campaign_id>/print", "/fulfilment/picklists/{done}/print?producer={producer}", (L, 403, 403, 403, 200, 200, 200, 403), absent=OTHER_PICKLIST)
row("GET", "/notifications/", "/notifications/", (L, 200, 200, 200, 200, 200, 200, 200))
row("POST", "/notifications/<int:notification_id>/resend", "/notifications/{notification}/resend", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/notifications/failed", "/notifications/failed", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/orders/", "/orders/", (L, 200, 200, 200, 403, 200, 403, 200))
row("GET", "/orders/<int:order_id>", "/orders/{order}", (L, 200, 404, 200, 403, 200, 403, 404))
row("GET", "/orders/<int:order_id>/cancel", "/orders/{order}/cancel", (L, 200, 404, 200, 403, 200, 403, 404))
row("POST", "/orders/<int:order_id>/cancel", "/orders/{order}/cancel", (L, 302, 404, 302, 403, 302, 403, 404))
row("POST", "/orders/<int:order_id>/change", "/orders/{order}/change", (L, 422, 404, 422, 403, 403, 403, 404))
row("GET", "/orders/<int:order_id>/confirmation", "/orders/{order}/confirmation", (L, 200, 404, 200, 403, 403, 403, 404))
row("GET", "/producers/", "/producers/", (L, 403, 403, 403, 200, 403, 200, 403))
row("POST", "/producers/listings/<int:listing_id>/approve", "/producers/listings/{listing}/approve", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/producers/listings/<int:listing_id>/edit", "/producers/listings/{listing}/edit", (L, 403, 403, 403, 200, 200, 404, 403))
row("POST", "/producers/listings/<int:listing_id>/edit", "/producers/listings/{listing}/edit", (L, 403, 403, 403, 422, 422, 404, 403))
row("POST", "/producers/listings/<int:listing_id>/photos", "/producers/listings/{listing}/photos", (L, 403, 403, 403, 302, 302, 404, 403))
row("POST", "/producers/listings/<int:listing_id>/reject", "/producers/listings/{listing}/reject", (L, 403, 403, 403, 403, 302, 403, 403))
row("POST", "/producers/listings/<int:listing_id>/withdraw", "/producers/listings/{listing}/withdraw", (L, 403, 403, 403, 302, 302, 404, 403))
# an operator must name the producer (?producer_id=): 404 without it
row("GET", "/producers/listings/new", "/producers/listings/new", (L, 403, 403, 403, 200, 404, 200, 403))
# an operator must name the producer (?producer_id=): 404 without it
row("POST", "/producers/listings/new", "/producers/listings/new", (L, 403, 403, 403, 422, 404, 422, 403))
# the listing supplies a published campaign, whose page is public and shows it: anyone loads it
row("GET", "/producers/photos/<token>", "/producers/photos/{photo_token}", (200, 200, 200, 200, 200, 200, 200, 200))
# the producer deletes its photo; it is gone (404) when the operator asks next
row("POST", "/producers/photos/<int:photo_id>/delete", "/producers/photos/{photo}/delete", (L, 403, 403, 403, 302, 404, 404, 403))
row("GET", "/producers/photos/<token>/thumb", "/producers/photos/{photo_token}/thumb", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/producers/profile", "/producers/profile", (L, 403, 403, 403, 200, 403, 200, 403))
row("POST", "/producers/profile", "/producers/profile", (L, 403, 403, 403, 302, 403, 302, 403))
row("GET", "/producers/registry", "/producers/registry", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/producers/registry/<int:producer_id>", "/producers/registry/{producer}", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/producers/registry/<int:producer_id>/approve", "/producers/registry/{producer}/approve", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/producers/registry/<int:producer_id>/edit", "/producers/registry/{producer}/edit", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/producers/registry/<int:producer_id>/edit", "/producers/registry/{producer}/edit", (L, 403, 403, 403, 403, 302, 403, 403))
row("POST", "/producers/registry/<int:producer_id>/suspend", "/producers/registry/{producer}/suspend", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/producers/registry/new", "/producers/registry/new", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/producers/registry/new", "/producers/registry/new", (L, 403, 403, 403, 403, 422, 403, 403))
row("GET", "/producers/review", "/producers/review", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/static/<path:filename>", "/static/css/pinbang.css", (200, 200, 200, 200, 200, 200, 200, 200))
row("GET", "/units/", "/units/", (L, 403, 403, 200, 403, 403, 403, 200))
row("GET", "/units/targets", "/units/targets", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/units/<int:unit_id>/targets/<int:year>", "/units/{unit}/targets/2026", (L, 403, 403, 200, 403, 200, 403, 404))
row("POST", "/units/<int:unit_id>/targets/<int:year>", "/units/{unit}/targets/2026", (L, 403, 403, 422, 403, 422, 403, 404))
row("GET", "/units/campaigns/<int:campaign_id>", "/units/campaigns/{open}", (L, 403, 403, 200, 403, 403, 403, 200))
row("GET", "/units/campaigns/<int:campaign_id>/distribution", "/units/campaigns/{open}/distribution", (L, 403, 403, 200, 403, 403, 403, 200))
row("GET", "/units/campaigns/<int:campaign_id>/distribution.xlsx", "/units/campaigns/{open}/distribution.xlsx", (L, 403, 403, 200, 403, 403, 403, 200))
row("GET", "/units/campaigns/<int:campaign_id>/grid", "/units/campaigns/{open}/grid", (L, 403, 403, 200, 403, 403, 403, 200))
row("POST", "/units/campaigns/<int:campaign_id>/grid", "/units/campaigns/{open}/grid", (L, 403, 403, 422, 403, 403, 403, 422))
row("GET", "/units/campaigns/<int:campaign_id>/sheet", "/units/campaigns/{open}/sheet", (L, 403, 403, 200, 403, 403, 403, 200))
row("POST", "/units/campaigns/<int:campaign_id>/sheet", "/units/campaigns/{open}/sheet", (L, 403, 403, 422, 403, 403, 403, 422))
row("POST", "/units/campaigns/<int:campaign_id>/sheet/confirm", "/units/campaigns/{open}/sheet/confirm", (L, 403, 403, 302, 403, 403, 403, 302))
row("GET", "/units/campaigns/<int:campaign_id>/template.xlsx", "/units/campaigns/{open}/template.xlsx", (L, 403, 403, 200, 403, 403, 403, 200))
row("POST", "/units/orders/<int:order_id>/payment", "/units/orders/{order}/payment", (L, 403, 403, 302, 403, 403, 403, 404))
row("POST", "/units/orders/<int:order_id>/payment/clear", "/units/orders/{order}/payment/clear", (L, 403, 403, 302, 403, 403, 403, 404))
# the front door: anyone may ask for a code (the same phone again at once: 429), join, log in by code, reset
row("POST", "/api/v1/auth/sms-code", "/api/v1/auth/sms-code", (202, 429, 429, 429, 429, 429, 429, 429), json={"phone": "13700009999", "purpose": "login"})
row("POST", "/api/v1/auth/register", "/api/v1/auth/register", (422, 422, 422, 422, 422, 422, 422, 422), json={"invite": "nope", "phone": "13700009998", "sms_code": "123456", "name": "新职工"})
row("POST", "/api/v1/auth/password-reset", "/api/v1/auth/password-reset", (422, 422, 422, 422, 422, 422, 422, 422), json={"phone": "13700009997", "sms_code": "123456", "new_password": "password-new1"})
row("GET", "/api/v1/units/<int:unit_id>/invite", "/api/v1/units/{unit}/invite", (401, 403, 403, 200, 403, 200, 403, 404))
row("POST", "/api/v1/units/<int:unit_id>/invite", "/api/v1/units/{unit}/invite", (401, 403, 403, 200, 403, 200, 403, 404))
row("POST", "/api/v1/units/<int:unit_id>/roster", "/api/v1/units/{unit}/roster", (401, 403, 403, 201, 403, 201, 403, 404), data=_roster)
row("GET", "/accounts/join/<code>", "/accounts/join/nope", (404, 404, 404, 404, 404, 404, 404, 404))
row("POST", "/accounts/join/<code>", "/accounts/join/nope", (404, 404, 404, 404, 404, 404, 404, 404))
row("GET", "/accounts/login/sms", "/accounts/login/sms", (200, 302, 302, 302, 302, 302, 302, 302))
row("POST", "/accounts/login/sms", "/accounts/login/sms", (422, 302, 302, 302, 302, 302, 302, 302))
row("GET", "/accounts/password/forgot", "/accounts/password/forgot", (200, 200, 200, 200, 200, 200, 200, 200))
row("POST", "/accounts/password/forgot", "/accounts/password/forgot", (422, 422, 422, 422, 422, 422, 422, 422))
row("GET", "/units/<int:unit_id>/people", "/units/{unit}/people", (L, 403, 403, 200, 403, 200, 403, 404))
row("GET", "/units/<int:unit_id>/invite.<any(svg, png):kind>", "/units/{unit}/invite.svg", (L, 403, 403, 200, 403, 200, 403, 404))
row("POST", "/units/<int:unit_id>/invite/rotate", "/units/{unit}/invite/rotate", (L, 403, 403, 302, 403, 302, 403, 404))
row("POST", "/units/<int:unit_id>/roster", "/units/{unit}/roster", (L, 403, 403, 422, 403, 422, 403, 404))
row("POST", "/units/<int:unit_id>/roster/confirm", "/units/{unit}/roster/confirm", (L, 403, 403, 302, 403, 302, 403, 404))
# Claims (售后): the buyer files on its delivered line (its coordinator may too); operators decide. The world's claim
# is the buyer's on the closed campaign's order; photos are private to whoever may see the claim.
_CLAIM = {"item_id": None, "quantity": 1, "reason": "damaged"}
row("GET", "/api/v1/claims", "/api/v1/claims", (401, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/api/v1/claims/<int:claim_id>", "/api/v1/claims/{claim}", (401, 200, 404, 200, 403, 200, 403, 404))
row("POST", "/api/v1/claims/<int:claim_id>/decide", "/api/v1/claims/{claim}/decide", (401, 403, 403, 403, 403, 200, 403, 403), json={"decision": "reject", "note": "照片不清楚"})
row("GET", "/api/v1/orders/<int:order_id>/claims", "/api/v1/orders/{done_order}/claims", (401, 200, 404, 200, 403, 200, 403, 404))
# the buyer files on the delivered honey, and so may its coordinator (3 arrived, the world's claim took 1)
row("POST", "/api/v1/orders/<int:order_id>/claims", "/api/v1/orders/{done_order}/claims", (401, 201, 404, 201, 403, 403, 403, 404), json=lambda ids: {**_CLAIM, "item_id": ids["done_honey"]})
row("GET", "/claims/", "/claims/", (L, 403, 403, 403, 403, 200, 403, 403))
row("GET", "/claims/<int:claim_id>", "/claims/{claim}", (L, 200, 404, 200, 403, 200, 403, 404))
# an empty decision form re-shows the claim (200); the buyer's side has no form to post
row("POST", "/claims/<int:claim_id>", "/claims/{claim}", (L, 200, 404, 200, 403, 200, 403, 404))
row("GET", "/claims/orders/<int:order_id>/new", "/claims/orders/{done_order}/new", (L, 200, 404, 200, 403, 403, 403, 404))
row("POST", "/claims/orders/<int:order_id>/new", "/claims/orders/{done_order}/new", (L, 422, 404, 422, 403, 403, 403, 404))
row("GET", "/claims/photos/<token>", "/claims/photos/{claim_photo_token}", (L, 200, 404, 200, 403, 200, 403, 404))
row("GET", "/claims/photos/<token>/thumb", "/claims/photos/{claim_photo_token}/thumb", (L, 200, 404, 200, 403, 200, 403, 404))
row("GET", "/claims/units/<int:unit_id>", "/claims/units/{unit}", (L, 403, 403, 200, 403, 200, 403, 403))
# Earnings (我的收入): a producer its own, operators any; payment terms and payout reversals are the operators'.
row("GET", "/api/v1/producers/<int:producer_id>/earnings", "/api/v1/producers/{producer}/earnings", (401, 403, 403, 403, 200, 200, 404, 403))
row("PUT", "/api/v1/campaigns/<int:campaign_id>/payment-terms", "/api/v1/campaigns/{done}/payment-terms", (401, 403, 403, 403, 403, 200, 403, 403), json={"days": 15})
row("GET", "/earnings/", "/earnings/", (L, 403, 403, 403, 200, 403, 200, 403))
row("GET", "/earnings/campaigns/<int:campaign_id>", "/earnings/campaigns/{done}", (L, 403, 403, 403, 403, 200, 403, 403))
# empty terms are the default terms: saved (302)
row("POST", "/earnings/campaigns/<int:campaign_id>", "/earnings/campaigns/{done}", (L, 403, 403, 403, 403, 302, 403, 403))
row("GET", "/earnings/producers/<int:producer_id>", "/earnings/producers/{producer}", (L, 403, 403, 403, 403, 200, 403, 403))
row("POST", "/api/v1/payouts/<int:payout_id>/reverse", "/api/v1/payouts/{payout}/reverse", (401, 403, 403, 403, 403, 201, 403, 403), json={"reason": "记错金额"})
row("POST", "/dashboard/payouts/<int:payout_id>/reverse", "/dashboard/payouts/{payout}/reverse", (L, 403, 403, 403, 403, 302, 403, 403))
# A unit's payment history: its coordinator and operators.
row("GET", "/api/v1/orders/<int:order_id>/payments", "/api/v1/orders/{order}/payments", (401, 403, 403, 200, 403, 200, 403, 404))
# Cadres (驻村干部) only; none of these roles is one.
row("GET", "/cadres/", "/cadres/", (L, 403, 403, 403, 403, 403, 403, 403))
row("POST", "/cadres/deliveries", "/cadres/deliveries", (L, 403, 403, 403, 403, 403, 403, 403))
row("POST", "/fulfilment/picklists/<int:campaign_id>/ack-by-phone/<int:producer_id>", "/fulfilment/picklists/{done}/ack-by-phone/{producer}", (L, 403, 403, 403, 403, 302, 403, 403))
# fmt: on


READS = sorted(key for key in TABLE if key[0] == "GET")
WRITES = sorted(key for key in TABLE if key[0] != "GET")


def test_reads_answer_each_role_as_expected(app):
    """Every GET row against one world (reads change nothing)."""
    world = build_world()
    failures = [failure for method, rule in READS for failure in _ask(app, world, method, rule)]
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("method,rule", WRITES, ids=lambda v: v)
def test_writes_answer_each_role_as_expected(app, method, rule):
    """Every POST, PATCH and DELETE row against a fresh world."""
    failures = _ask(app, build_world(), method, rule)
    assert not failures, "\n".join(failures)
