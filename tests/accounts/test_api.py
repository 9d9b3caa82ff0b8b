"""The API base: tokens, the error format, units and users."""

from factories import make_unit, make_user


def test_token_by_phone_and_revoke(api):
    user = make_user(role="buyer", coordinator=True)
    response = api.client.post("/api/v1/auth/token", json={"login": user.phone, "password": "password123"})
    body = response.get_json()
    assert response.status_code == 200
    assert body["user"] == {
        "id": user.id,
        "name": user.name,
        "role": "buyer",
        "unit_id": user.unit_id,
        "producer_id": None,
        "coordinator": True,
        "phone": user.phone,
        "email": None,
        "active": True,
        "locale": None,
        "town": None,
    }
    api.token = body["token"]
    assert api.get("/me").status_code == 200
    assert api.delete("/auth/token").status_code == 204
    assert api.get("/me").status_code == 401


def test_wrong_password_gives_401_in_the_error_format(api):
    user = make_user()
    response = api.client.post("/api/v1/auth/token", json={"login": user.phone, "password": "nope"})
    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "unauthorized"
    assert error["message"] == "手机号/邮箱或密码错误。"


def test_messages_follow_accept_language(api):
    response = api.client.post("/api/v1/auth/token", json={"login": "x", "password": "y"}, headers={"Accept-Language": "en"})
    assert response.get_json()["error"]["message"] == "Wrong phone/email or password."


def test_missing_token_is_401_and_a_bad_one_too(api):
    assert api.get("/units").get_json()["error"]["code"] == "unauthorized"
    api.token = "forged"
    assert api.get("/units").status_code == 401


def test_malformed_json_is_400_not_500(api):
    response = api.client.post("/api/v1/auth/token", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["code"] in ("bad_request", "validation_error")


def test_invalid_fields_are_422_with_field_messages(api_as):
    operator = make_user(role="operator")
    client = api_as(operator)
    response = client.post("/users", json={"name": "", "phone": 5, "role": "king", "password": "x"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["details"]["fields"]
    assert {"name", "phone", "role"} <= set(fields)


def test_service_validation_is_422_with_fields_too(api_as):
    operator = make_user(role="operator")
    response = api_as(operator).post("/users", json={"name": "王芳", "phone": "123", "role": "buyer", "password": "long-enough"})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["details"]["fields"]) == {"phone", "unit_id"}


def test_unknown_path_and_wrong_method_are_json(api):
    missing = api.get("/nothing-here")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    wrong = api.client.put("/api/v1/units")
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]


def test_units_list_and_create(api_as):
    operator = make_user(role="operator")
    buyer = make_user(role="buyer", unit=make_unit(name="乐昌市总工会"))
    created = api_as(operator).post("/units", json={"name": "乐昌市商务局", "address": "人民南路"})
    assert created.status_code == 201 and created.get_json()["name"] == "乐昌市商务局"
    listing = api_as(buyer).get("/units?per_page=1")
    body = listing.get_json()
    assert body["total"] == 2 and body["per_page"] == 1 and len(body["items"]) == 1
    assert api_as(buyer).post("/units", json={"name": "x", "address": "y"}).status_code == 403
    duplicate = api_as(operator).post("/units", json={"name": "乐昌市商务局", "address": "z"})
    assert duplicate.status_code == 422


def test_per_page_is_capped(api_as):
    buyer = make_user()
    assert api_as(buyer).get("/units?per_page=201").status_code == 422
    assert api_as(buyer).get("/units?page=0").status_code == 422


def test_operator_creates_users_others_cannot(api_as):
    operator = make_user(role="operator")
    unit = make_unit()
    response = api_as(operator).post(
        "/users",
        json={"name": "张伟", "phone": "13800138000", "password": "tea-garden-2026", "role": "buyer", "unit_id": unit.id},
    )
    assert response.status_code == 201
    new_user = response.get_json()
    assert new_user["unit_id"] == unit.id and "password" not in new_user and "password_hash" not in new_user
    buyer = make_user()
    assert api_as(buyer).post("/users", json={}).status_code == 403


def test_openapi_spec_is_served(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["info"]["title"] == "Pinbang API"
    assert "/api/v1/auth/token" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_token_endpoint_is_rate_limited(api):
    make_user(phone="13912348888")
    statuses = [
        api.client.post("/api/v1/auth/token", json={"login": "13912348888", "password": "bad"}).status_code for _ in range(11)
    ]
    assert statuses[-1] == 429
