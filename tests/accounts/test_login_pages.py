"""Logging in and out through the pages, by phone and by email; roles on pages; CSRF; the login rate limit."""

import re

import pytest

from factories import make_producer, make_user


def test_login_by_phone_then_logout(client, auth):
    user = make_user(role="buyer", phone="13912345678")
    response = auth.login("139 1234 5678", follow=True)
    assert response.status_code == 200
    assert user.name in response.get_data(as_text=True)
    assert auth.logout().status_code == 302
    assert client.get("/campaigns").status_code == 302  # sent to the login page again


def test_login_by_email_any_case(client, auth):
    user = make_user(role="operator", email="li.yong@lechang.gov.cn")
    response = auth.login("Li.Yong@Lechang.gov.cn", follow=True)
    assert user.name in response.get_data(as_text=True)
    assert "/accounts/operator" in response.request.path


def test_wrong_password_is_refused_and_says_so(client, auth):
    make_user(phone="13912345670")
    response = auth.login("13912345670", password="not-it")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "手机号/邮箱或密码错误" in page
    assert client.get("/campaigns").status_code == 302


def test_inactive_user_cannot_log_in(auth):
    make_user(phone="13912345671", active=False)
    assert "手机号/邮箱或密码错误" in auth.login("13912345671").get_data(as_text=True)


@pytest.mark.parametrize(
    "role,path,expected",
    [
        ("buyer", "/accounts/users", 403),
        ("producer", "/accounts/users", 403),
        ("operator", "/accounts/users", 200),
        ("buyer", "/producers/", 403),
        ("producer", "/producers/", 200),
        ("operator", "/accounts/units", 200),
        ("producer", "/campaigns", 403),
        ("buyer", "/campaigns", 200),
    ],
)
def test_each_role_sees_only_its_pages(client, auth, role, path, expected):
    user = make_user(role=role)
    auth.login(user.phone)
    assert client.get(path).status_code == expected


def test_anonymous_is_sent_to_login(client):
    response = client.get("/accounts/users")
    assert response.status_code == 302
    assert "/accounts/login" in response.headers["Location"]


def test_change_password(client, auth):
    user = make_user()
    auth.login(user.phone)
    bad = client.post("/accounts/password", data={"current_password": "wrong-one", "new_password": "new-password-1"})
    assert bad.status_code == 422
    assert "当前密码不正确" in bad.get_data(as_text=True)
    client.post("/accounts/password", data={"current_password": "password123", "new_password": "new-password-1"})
    auth.logout()
    assert "手机号/邮箱或密码错误" in auth.login(user.phone).get_data(as_text=True)
    assert auth.login(user.phone, password="new-password-1").status_code == 302


def test_operator_creates_unit_and_user_through_pages(client, auth):
    operator = make_user(role="operator")
    auth.login(operator.phone)
    client.post("/accounts/units/new", data={"name": "乐昌市妇联", "address": "公园路1号"})
    page = client.get("/accounts/units").get_data(as_text=True)
    assert "乐昌市妇联" in page
    from accounts.models import Unit, User
    from extensions import db

    unit = db.session.scalar(db.select(Unit).where(Unit.name == "乐昌市妇联"))
    response = client.post(
        "/accounts/users/new",
        data={
            "name": "刘敏",
            "phone": "13700001111",
            "role": "buyer",
            "unit_id": str(unit.id),
            "coordinator": "y",
            "password": "secret-pass",
        },
    )
    assert response.status_code == 302
    created = db.session.scalar(db.select(User).where(User.phone == "13700001111"))
    assert created.is_coordinator and created.unit_id == unit.id


def test_user_form_names_each_wrong_field_and_saves_nothing(client, auth):
    operator = make_user(role="operator")
    auth.login(operator.phone)
    response = client.post("/accounts/users/new", data={"name": "x", "phone": "12345", "role": "buyer", "password": "short"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "请填写11位手机号码" in page
    assert "购买人必须属于一个单位" in page
    assert "至少 8 个字符" in page
    from accounts.models import User
    from extensions import db

    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 1


def test_producer_account_must_name_its_producer(client, auth):
    operator = make_user(role="operator")
    producer = make_producer()
    auth.login(operator.phone)
    page = client.post(
        "/accounts/users/new", data={"name": "农户", "phone": "13700002222", "role": "producer", "password": "secret-pass"}
    ).get_data(as_text=True)
    assert "生产者账号必须关联一个生产者" in page
    ok = client.post(
        "/accounts/users/new",
        data={
            "name": "农户",
            "phone": "13700002222",
            "role": "producer",
            "producer_id": str(producer.id),
            "password": "secret-pass",
        },
    )
    assert ok.status_code == 302


def _csrf_token(page):
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def test_forms_without_csrf_token_are_rejected(csrf_app):
    client = csrf_app.test_client()
    user = make_user(phone="13912340000")
    refused = client.post("/accounts/login", data={"login": user.phone, "password": "password123"})
    assert refused.status_code == 400
    assert "表单已过期" in refused.get_data(as_text=True)
    token = _csrf_token(client.get("/accounts/login").get_data(as_text=True))
    accepted = client.post("/accounts/login", data={"login": user.phone, "password": "password123", "csrf_token": token})
    assert accepted.status_code == 302
    assert client.post("/accounts/logout").status_code == 400


def test_login_is_rate_limited(client, auth, app):
    make_user(phone="13912349999")
    statuses = [auth.login("13912349999", password=f"guess-{i}").status_code for i in range(12)]
    assert statuses[:10] == [200] * 10
    assert statuses[10] == 429
    assert "请求过于频繁" in auth.login("13912349999").get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client, auth):
    user = make_user()
    response = auth.login(user.phone)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_next_parameter_cannot_leave_the_site(client, auth):
    user = make_user()
    response = client.post("/accounts/login?next=//evil.example/x", data={"login": user.phone, "password": "password123"})
    assert "evil.example" not in response.headers["Location"]
