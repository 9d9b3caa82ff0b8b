"""API fuzzing: schemathesis drives every operation of /api/v1/openapi.json, in process, as each role.

Data: the demo (units, producers, listings, an open and a scheduled campaign, one account per role), a buyer's order,
and a campaign that is closed and pooled, so ids 1, 2, 3 … reach real rows of every kind. For each role the whole API
is fuzzed with that role's bearer token (anonymous: none). Checks: no 5xx, every status code documented in the spec,
every body, header and content type as the spec declares, every request that violates the spec refused
(negative_data_rejection), every request the spec allows accepted (positive_data_acceptance, but for RULES_IN_WORDS).
Bounded for CI by ``FUZZ_EXAMPLES`` per operation and pass (default 8).
"""

import os
import re

import hypothesis
import pytest
import schemathesis
import sqlalchemy as sa
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import factories
from accounts.models import User
from accounts.services import issue_token
from demo.seed import seed_demo
from extensions import db
from factories import make_pooling_campaign, make_pooling_people

pytestmark = [pytest.mark.fuzz, pytest.mark.slow]

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))

ROLES = {
    "anonymous": None,
    "buyer": "13900000005",
    "coordinator": "13900000004",
    "producer": "13900000002",
    "operator": "13900000001",
}

KNOWN_IDS = (1, 3)

# Operations that must answer 2xx at least once per role (the anonymous caller: the token exchange only).
MIN_SUCCESSFUL = {"anonymous": 0, "buyer": 6, "coordinator": 8, "producer": 8, "operator": 20}

# What a JSON Schema cannot say, so each operation's description says it in words: a rule between two fields
# (closes_at after opens_at), or one about stored rows (an id that must exist, a phone already taken, a photo's
# content). A schema-valid request refused with 422 passes only when every field its answer names (or its error
# code) is listed here for its operation; any other refusal of a schema-valid request fails the run.
RULES_IN_WORDS = {
    "POST /api/v1/campaigns/{campaign_id}/orders": {"lines", "buyer_name", "buyer_phone"},
    "PATCH /api/v1/orders/{order_id}": {"lines"},
    "POST /api/v1/producers": {"town", "poverty_household", "poverty_id", "linked_households"},
    "PATCH /api/v1/producers/{producer_id}": {"town", "kind", "poverty_household", "poverty_id", "linked_households"},
    "POST /api/v1/listings": {"producer_id", "unit_weight_kg", "ready_on"},
    "PATCH /api/v1/listings/{listing_id}": {"unit", "unit_weight_kg", "quantity", "ready_on"},
    "POST /api/v1/listings/{listing_id}/photos": {"photo"},
    "POST /api/v1/users": {"phone", "email", "password", "unit_id", "coordinator", "producer_id", "town"},
    "POST /api/v1/units": {"name"},
    "POST /api/v1/campaigns": {"opens_at", "closes_at", "delivery_on", "unit_ids"},
    "POST /api/v1/campaigns/{campaign_id}/items": {"title", "unit", "price_fen", "min_total", "supplies"},
    "POST /api/v1/campaigns/{campaign_id}/group-orders": {"invalid_sheet"},
    # a code the SMS sent, an invitation that is live, a phone that is a mobile number, a password not too common
    "POST /api/v1/auth/token": {"_schema", "sms_code"},
    "POST /api/v1/auth/sms-code": {"phone"},
    "POST /api/v1/auth/register": {"invite", "phone", "sms_code", "password"},
    "POST /api/v1/auth/password-reset": {"phone", "sms_code", "new_password"},
    "POST /api/v1/units/{unit_id}/roster": {"invalid_sheet"},
    # something to change besides the reason; a published campaign's closing time only later, delivery after it
    "PATCH /api/v1/campaigns/{campaign_id}": {"_schema", "closes_at", "delivery_on"},
    "PUT /api/v1/items/{item_id}/supplies/{listing_id}": {"listing_id"},
    "PUT /api/v1/units/{unit_id}/targets/{year}": {"year"},
    # a date within 30 years; each household and certificate once; shares up to 100 %; an 'other' certificate named
    "PUT /api/v1/producers/{producer_id}/admission": {"valid_until"},
    "POST /api/v1/producers/{producer_id}/households": {"registry_number", "share_pct"},
    "POST /api/v1/listings/{listing_id}/certificates": {"label", "number", "valid_until"},
    # a rejection says why; a refund of at most the claimed pieces
    "POST /api/v1/claims/{claim_id}/decide": {"note", "quantity"},
}


def schema_valid_requests_are_accepted(ctx, response, case):
    """schemathesis's positive_data_acceptance, but for the rules of RULES_IN_WORDS."""
    if response.status_code == 422 and case.meta is not None and case.meta.generation.mode.is_positive:
        error = response.json()["error"]
        named = set(error["details"].get("fields", {})) or {error["code"]}
        if named <= RULES_IN_WORDS.get(case.operation.label, set()):
            return None
    return positive_data_acceptance(ctx, response, case)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    schema_valid_requests_are_accepted,
]

SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


@pytest.fixture
def fuzz_data(app):
    """The demo data, one order by the demo buyer, and a pooled campaign (allocations, pick lists, notifications)."""
    from fulfilment.closing import close_campaign
    from orders.services import place_order

    app.config["RATELIMIT_ENABLED"] = True
    seed_demo()
    buyer = db.session.scalar(sa.select(User).where(User.phone == ROLES["buyer"]))
    campaign_id = 1
    from shop.models import CampaignItem

    item = db.session.scalar(sa.select(CampaignItem).where(CampaignItem.campaign_id == campaign_id).order_by(CampaignItem.id))
    place_order(buyer, campaign_id, [{"item_id": item.id, "quantity": 2}], idempotency_key="fuzz-seed")
    while factories._n() < 10:  # the builders' phones 139000000nn must not meet the demo accounts'
        pass
    pooled = make_pooling_campaign(make_pooling_people())
    assert close_campaign(pooled.campaign.id) == "allocated"
    return app


@pytest.fixture
def tokens(fuzz_data):
    """A bearer token per role (anonymous: None)."""
    users = {role: db.session.scalar(sa.select(User).where(User.phone == phone)) for role, phone in ROLES.items() if phone}
    return {"anonymous": None} | {role: issue_token(user) for role, user in users.items()}


def _fuzz_pass(strategy, headers, statuses):
    """One bounded Hypothesis run of an operation's cases; the statuses it saw are added to ``statuses``."""

    @SETTINGS
    @hypothesis.given(case=strategy)
    def run(case):
        statuses.add(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    run()


def fuzz(app, token):
    """Fuzz every operation in positive and negative mode; returns a report line per failing operation."""
    api_schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # The caller's token goes in every request's headers: cases must not also draw (or drop) an Authorization header.
    api_schema.config.generation.update(with_security_parameters=False)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    failures, tested, answered = [], 0, {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if token is not None and operation.method.upper() == "DELETE" and operation.path == "/api/v1/auth/token":
            continue  # revoking the token under test would make the rest of the run 401s; checked once, below
        passes = {"positive": operation.as_strategy(generation_mode=GenerationMode.POSITIVE)}
        if operation.body or any(True for _ in operation.iter_parameters()):
            # An operation that takes nothing (GET /me) has no invalid request to send.
            passes["negative"] = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
        names = [parameter.name for parameter in operation.path_parameters]
        if names:
            # Random ids mostly miss; also aim at rows that exist (the seeded data has ids 1, 2, 3 of every kind).
            for known in KNOWN_IDS:
                passes[f"ids={known}"] = operation.as_strategy(path_parameters=dict.fromkeys(names, known))
        statuses = answered.setdefault(operation.label, set())
        for mode, strategy in passes.items():
            tested += 1
            try:
                _fuzz_pass(strategy, headers, statuses)
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - collect every operation's failure, then report them together
                failures.append(f"--- {operation.label} ({mode}):\n{str(error)[:3000]}")
    assert tested > 60, "the spec lost its operations"
    return failures, answered


@pytest.mark.parametrize("role", list(ROLES))
def test_every_operation_answers_within_its_spec(fuzz_data, tokens, role):
    failures, answered = fuzz(fuzz_data, tokens[role])
    assert not failures, f"{len(failures)} operation(s) failed as {role}:\n" + "\n".join(failures)
    succeeded = sorted(label for label, statuses in answered.items() if any(200 <= s < 300 for s in statuses))
    # The token really worked and the seeded rows were reached: each role got real answers, not only 401/404.
    assert len(succeeded) >= MIN_SUCCESSFUL[role], (role, succeeded, answered)


def test_the_spec_documents_the_error_format_for_every_operation(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = spec["components"]["schemas"][error["properties"]["error"]["$ref"].rsplit("/", 1)[1]]
    assert set(detail["required"]) == {"code", "message", "details"}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "post", "patch", "put", "delete"}:
                continue
            for status in ("400", "401", "403", "404", "405", "409", "413", "414", "415", "422", "429", "503"):
                assert status in operation["responses"], (method, path, status)


def test_the_spec_declares_what_the_api_enforces(client):
    """Spot checks of constraints the fuzz run relies on: a client reading the spec knows them before sending."""
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert re.fullmatch(schemas["UserCreate"]["properties"]["phone"]["pattern"], "+86 139-0000-0001")
    assert not re.fullmatch(schemas["UserCreate"]["properties"]["phone"]["pattern"], "1290000000")
    assert schemas["UserCreate"]["properties"]["password"]["minLength"] == 8
    assert schemas["LineIn"]["properties"]["quantity"] == {"type": "integer", "minimum": 1, "maximum": 10000}
    assert schemas["OrderPlace"]["properties"]["lines"]["minItems"] == 1
    assert schemas["ListingIn"]["properties"]["price_fen"]["minimum"] == 1
    assert schemas["ListingIn"]["properties"]["name"]["maxLength"] == 80
    for patch in ("ProducerPatch", "ListingPatch"):
        assert schemas[patch]["minProperties"] == 1, patch


def test_an_empty_patch_is_refused_and_changes_nothing(api, app):
    from factories import make_listing, make_producer, make_user

    producer = make_producer(name="刘家农户")
    listing = make_listing(producer, name="土鸡蛋")
    api.login(make_user(role="operator").phone)
    for path in (f"/producers/{producer.id}", f"/listings/{listing.id}"):
        response = api.patch(path, json={})
        assert response.status_code == 422, (path, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == "validation_error"
        assert error["details"]["fields"]["_schema"] == ["请至少提交一个要修改的字段。"]
    assert api.get(f"/producers/{producer.id}").get_json()["name"] == "刘家农户"
    assert api.get(f"/listings/{listing.id}").get_json()["name"] == "土鸡蛋"
    assert api.patch(f"/listings/{listing.id}", json={"name": "散养土鸡蛋"}).status_code == 200


def test_texts_with_markup_or_spaces_at_the_ends_are_refused_in_the_users_language(api, app):
    from factories import make_user

    api.login(make_user(role="operator").phone)
    for name in (" 张三", "张三\u3000", "<b>张三</b>"):
        response = api.post(
            "/producers",
            json={
                "name": name,
                "kind": "household",
                "town": "秀水镇",
                "village": "村",
                "phone": "13912345678",
                "poverty_household": False,
            },
        )
        assert response.status_code == 422, name
        assert response.get_json()["error"]["details"]["fields"]["name"] == [
            "请填写单行纯文本，不能包含 < 或 >，首尾不能有空格。"
        ]


def test_a_revoked_token_is_refused_afterwards(api, app):
    from factories import make_user

    user = make_user(role="buyer")
    api.login(user.phone)
    assert api.get("/me").status_code == 200
    assert api.delete("/auth/token").status_code == 204
    refused = api.get("/me")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthorized"


def test_an_id_too_large_for_the_database_is_not_found_not_a_server_error(api, app):
    from factories import make_user

    api.login(make_user(role="operator").phone)
    for path in (
        "/producers/156691017122963390464/picklist?campaign_id=1",
        "/orders/99999999999999999999",
        "/listings/2147483648",
    ):
        response = api.get(path)
        assert response.status_code == 404, (path, response.get_json())
        assert response.get_json()["error"]["code"] == "not_found"


def test_a_number_too_large_for_the_database_in_a_query_is_refused_cleanly(api, app):
    """SQLite cannot bind a 40-digit integer: the spec says an id is at most 2**31 - 1, and the API refuses more
    before the database sees it, naming the field. Never a 500."""
    from factories import make_user

    api.login(make_user(role="operator").phone)
    for query in ("/listings?producer_id=226771837717418626901786664429936443392", "/units/1/orders?campaign_id=2147483648"):
        response = api.get(query)
        assert response.status_code == 422, response.get_json()
        field = query.split("?")[1].split("=")[0]
        assert response.get_json()["error"]["details"]["fields"] == {field: ["不是有效的编号。"]}
    assert api.get("/listings?producer_id=2147483647").get_json()["items"] == []
