"""One password rule (at least 8 characters, not containing the phone number, not a common password) wherever a
password is set: an operator creating or editing a user (page and API), a password change, the command line."""

import pytest
import sqlalchemy as sa

from accounts.models import User
from accounts.passwords import password_problem
from extensions import db
from factories import PASSWORD, make_unit, make_user

SHORT, PHONE, COMMON = "至少 8 个字符", "密码不能包含手机号。", "这个密码太常见，很容易被猜中，请换一个。"
NEW_PHONE = "13700005555"

REFUSED = [
    ("short7!", SHORT),
    (NEW_PHONE, PHONE),
    (f"+86 {NEW_PHONE}", PHONE),
    (f"wang{NEW_PHONE}", PHONE),
    ("12345678", COMMON),
    ("Password123", COMMON),  # case does not make it uncommon
    ("woaini1314", COMMON),
    ("qwertyuiop", COMMON),
    ("87654321", COMMON),
    ("zzzzzzzzzz", COMMON),
]


def _users_with_phone(phone):
    return db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.phone == phone))


@pytest.mark.parametrize("password,message", REFUSED)
def test_operator_creating_a_user_on_the_page_is_told_why_the_password_is_refused(client, auth, password, message):
    unit = make_unit()
    auth.login(make_user(role="operator").phone)
    form = {"name": "刘敏", "phone": NEW_PHONE, "role": "buyer", "unit_id": str(unit.id), "password": password}
    response = client.post("/accounts/users/new", data=form)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert _users_with_phone(NEW_PHONE) == 0


@pytest.mark.parametrize("password,message", REFUSED)
def test_operator_creating_a_user_through_the_api_is_told_why_the_password_is_refused(api_as, password, message):
    unit = make_unit()
    body = {"name": "刘敏", "phone": NEW_PHONE, "role": "buyer", "unit_id": unit.id, "password": password}
    response = api_as(make_user(role="operator")).post("/users", json=body)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert any(message in text for text in error["details"]["fields"]["password"])
    assert _users_with_phone(NEW_PHONE) == 0


def test_a_good_password_is_accepted_on_the_page_and_through_the_api(client, auth, api_as):
    unit = make_unit()
    operator = make_user(role="operator")
    auth.login(operator.phone)
    form = {"name": "刘敏", "phone": NEW_PHONE, "role": "buyer", "unit_id": str(unit.id), "password": "马蹄 tea 2026"}
    assert client.post("/accounts/users/new", data=form).status_code == 302
    body = {"name": "张伟", "phone": "13700006666", "role": "buyer", "unit_id": unit.id, "password": "tea-garden-2026"}
    assert api_as(operator).post("/users", json=body).status_code == 201
    assert auth.logout().status_code == 302
    assert auth.login(NEW_PHONE, password="马蹄 tea 2026").status_code == 302


def test_an_operator_editing_a_user_cannot_set_a_common_password(client, auth):
    user = make_user()
    auth.login(make_user(role="operator").phone)
    form = {"name": user.name, "phone": user.phone, "role": "buyer", "unit_id": str(user.unit_id), "active": "y"}
    response = client.post(f"/accounts/users/{user.id}/edit", data=dict(form, password="iloveyou"))
    assert response.status_code == 422 and COMMON in response.get_data(as_text=True)
    db.session.expire_all()
    assert user.check_password(PASSWORD)


@pytest.mark.parametrize("password,message", [("1234567", SHORT), ("abcd1234", COMMON), (None, PHONE)])
def test_a_password_change_is_refused_with_the_reason_and_changes_nothing(client, auth, password, message):
    user = make_user(phone="13912345678")
    auth.login(user.phone)
    new = password or "my-13912345678"
    response = client.post("/accounts/password", data={"current_password": PASSWORD, "new_password": new})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.expire_all()
    assert user.check_password(PASSWORD)
    assert client.get("/campaigns").status_code == 200  # still logged in: nothing changed


def test_the_command_line_refuses_a_common_password(runner):
    result = runner.invoke(
        args=["create-user", "--role", "operator", "--name", "李勇", "--phone", "13900001234", "--password", "password1"]
    )
    assert result.exit_code == 1
    assert COMMON in result.output
    assert _users_with_phone("13900001234") == 0


def test_the_rule_speaks_english_too(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert password_problem("abc", None) == "At least 8 characters."
        assert password_problem("13912345678", "13912345678") == "The password must not contain your phone number."
        assert "common" in password_problem("superman", "13912345678")
        assert password_problem("snow-chicken-kettle", "13912345678") is None
