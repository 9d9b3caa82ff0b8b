"""The front door through the pages and the API: joining by a unit's invitation and an SMS code, logging in by code,
忘记密码, and the codes' rules (expiry, few tries, rate limits, the same answer for every phone)."""

import re
from dataclasses import replace

import pytest
import sqlalchemy as sa
from sms_inbox import Gateway, code_in, last_code, texts_to

from accounts.codes import RULES
from accounts.models import ApiToken, SmsCode, User
from database import utcnow
from extensions import db
from factories import make_unit, make_user


@pytest.fixture
def unit(app):
    return make_unit(name="乐昌市妇联", address="公园路8号")


@pytest.fixture
def invite(unit, api_as):
    """The unit's invitation code, as its coordinator reads it from the API."""
    coordinator = make_user(unit=unit, coordinator=True, name="何联络员")
    body = api_as(coordinator).get(f"/units/{unit.id}/invite").get_json()
    assert body["url"].endswith(f"/accounts/join/{body['code']}")
    return body["code"]


def _users(phone):
    return db.session.scalars(sa.select(User).where(User.phone == phone)).all()


def _ask_code(client, phone, purpose):
    return client.post("/api/v1/auth/sms-code", json={"phone": phone, "purpose": purpose})


def test_a_colleague_joins_through_the_invitation_page_and_lands_on_the_campaign(client, unit, invite, app):
    page = client.get(f"/accounts/join/{invite}?next=/c/spring")
    assert page.status_code == 200 and "乐昌市妇联" in page.get_data(as_text=True)
    form = page.get_data(as_text=True).split('<form method="post" novalidate>', 1)[1]
    buttons = [tag for tag in re.findall(r"<(?:button|input)\b[^>]*>", form) if 'type="submit"' in tag]
    assert 'name="submit"' in buttons[0] and 'name="send_code"' in buttons[1]  # Enter joins, it does not resend

    sent = client.post(
        f"/accounts/join/{invite}?next=/c/spring", data={"phone": "138 0013 8001", "name": "陈晓", "send_code": "1"}
    )
    assert sent.status_code == 200
    text = sent.get_data(as_text=True)
    assert "短信正在发往 13800138001" in text and 'value="陈晓"' in text  # what was typed stays
    code = last_code(app, "13800138001")
    assert "注册验证码" in texts_to(app, "13800138001")[-1]

    joined = client.post(
        f"/accounts/join/{invite}?next=/c/spring",
        data={"phone": "13800138001", "name": "陈晓", "sms_code": code, "submit": "1"},
    )
    assert joined.status_code == 302 and joined.headers["Location"] == "/c/spring"
    [user] = _users("13800138001")
    assert (user.role, user.unit_id, user.name, user.coordinator) == ("buyer", unit.id, "陈晓", False)
    assert client.get("/campaigns").status_code == 200  # logged in


def test_registration_by_api_answers_with_a_token_and_a_password_works_afterwards(client, unit, invite, app):
    assert _ask_code(client, "13800138002", "register").status_code == 202
    response = client.post(
        "/api/v1/auth/register",
        json={
            "invite": invite,
            "phone": "13800138002",
            "sms_code": last_code(app, "13800138002"),
            "name": "林",
            "password": "spring2026",
        },
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["user"]["unit_id"] == unit.id and body["user"]["role"] == "buyer"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json()["phone"] == "13800138002"
    again = client.post("/api/v1/auth/token", json={"login": "13800138002", "password": "spring2026"})
    assert again.status_code == 200


def test_a_rotated_invitation_is_refused_with_the_reason_and_creates_nothing(client, unit, invite, api_as, app):
    operator = make_user(role="operator")
    rotated = api_as(operator).post(f"/units/{unit.id}/invite").get_json()
    assert rotated["code"] != invite

    page = client.get(f"/accounts/join/{invite}")
    assert page.status_code == 404 and "已被新链接取代" in page.get_data(as_text=True)
    _ask_code(client, "13800138003", "register")
    refused = client.post(
        "/api/v1/auth/register",
        json={"invite": invite, "phone": "13800138003", "sms_code": last_code(app, "13800138003"), "name": "赵"},
    )
    assert refused.status_code == 422
    assert "已被新链接取代" in refused.get_json()["error"]["details"]["fields"]["invite"][0]
    assert _users("13800138003") == []
    # The code was not spent on the refused request: the new invitation works with it.
    ok = client.post(
        "/api/v1/auth/register",
        json={"invite": rotated["code"], "phone": "13800138003", "sms_code": last_code(app, "13800138003"), "name": "赵"},
    )
    assert ok.status_code == 201
    assert client.get("/accounts/join/not-a-code").status_code == 404


def test_wrong_codes_create_nothing_and_after_few_tries_even_the_right_one_is_refused(client, invite, app):
    _ask_code(client, "13800138004", "register")
    right = last_code(app, "13800138004")
    wrong = "000000" if right != "000000" else "111111"
    body = {"invite": invite, "phone": "13800138004", "name": "钱"}
    for _try in range(RULES.max_tries):
        response = client.post("/api/v1/auth/register", json={**body, "sms_code": wrong})
        assert response.status_code == 422
        assert response.get_json()["error"]["details"]["fields"]["sms_code"] == ["验证码错误或已过期，请重新获取。"]
    exhausted = client.post("/api/v1/auth/register", json={**body, "sms_code": right})
    assert exhausted.status_code == 422
    assert exhausted.get_json()["error"]["details"]["fields"]["sms_code"] == ["验证码输错次数太多，请重新获取。"]
    assert _users("13800138004") == []


def test_an_expired_code_is_refused_and_creates_nothing(client, invite, app):
    _ask_code(client, "13800138005", "register")
    db.session.execute(sa.update(SmsCode).where(SmsCode.phone == "13800138005").values(expires_at=utcnow()))
    db.session.commit()
    response = client.post(
        "/api/v1/auth/register",
        json={"invite": invite, "phone": "13800138005", "sms_code": last_code(app, "13800138005"), "name": "孙"},
    )
    assert response.status_code == 422 and "已过期" in response.get_json()["error"]["message"] + str(response.get_json())
    assert _users("13800138005") == []


def test_a_used_code_cannot_be_used_again(client, invite, app):
    _ask_code(client, "13800138006", "register")
    body = {"invite": invite, "phone": "13800138006", "sms_code": last_code(app, "13800138006"), "name": "周"}
    assert client.post("/api/v1/auth/register", json=body).status_code == 201
    assert client.post("/api/v1/auth/token", json={"phone": "13800138006", "sms_code": body["sms_code"]}).status_code == 422


def test_a_registered_phone_is_told_only_once_the_code_is_right(client, invite, unit, app):
    make_user(unit=unit, phone="13800138007")
    wrong = client.post(
        "/api/v1/auth/register", json={"invite": invite, "phone": "13800138007", "sms_code": "123456", "name": "吴"}
    )
    assert wrong.status_code == 422
    _ask_code(client, "13800138007", "register")
    taken = client.post(
        "/api/v1/auth/register",
        json={"invite": invite, "phone": "13800138007", "sms_code": last_code(app, "13800138007"), "name": "吴"},
    )
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "already_registered"
    assert len(_users("13800138007")) == 1


def test_a_phone_in_the_wrong_format_is_refused_in_chinese_and_in_english(client, invite):
    response = _ask_code(client, "1380013", "register")
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["fields"]["phone"] == ["请填写11位手机号码。"]
    english = client.post(
        "/api/v1/auth/sms-code", json={"phone": "1380013", "purpose": "login"}, headers={"Accept-Language": "en"}
    )
    assert english.get_json()["error"]["details"]["fields"]["phone"] == ["Enter an 11-digit mobile number."]
    page = client.post(f"/accounts/join/{invite}", data={"phone": "abc", "name": "郑", "sms_code": "1", "submit": "1"})
    assert page.status_code == 422 and "请填写11位手机号码。" in page.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsCode)) == 0


def test_the_answer_is_the_same_for_registered_and_unregistered_phones(client, app):
    make_user(phone="13800138008")
    answers = []
    for phone in ("13800138008", "13800138009"):
        first, second = _ask_code(client, phone, "login"), _ask_code(client, phone, "login")
        page = client.post("/accounts/login/sms", data={"phone": phone, "send_code": "1"})
        answers.append(
            (
                first.status_code,
                first.get_json(),
                second.status_code,
                second.get_json()["error"]["code"],
                page.status_code,
                # the wait in seconds may tick between the two phones
                re.sub(r"\d+ 秒", "N 秒", page.get_data(as_text=True).replace(phone, "PHONE")),
            )
        )
    assert answers[0] == answers[1]
    assert answers[0][:5] == (202, {}, 429, "rate_limited", 429) and "N 秒后再获取" in answers[0][5]
    # Only the account's owner gets a code; the other number is told it has no account.
    assert "登录验证码" in texts_to(app, "13800138008")[-1]
    assert "还没有账号" in texts_to(app, "13800138009")[-1]


def test_logging_in_by_sms_code_on_the_page_returns_to_next_and_by_api_gives_a_token(client, app):
    user = make_user(phone="13800138010", name="冯")
    login_page = client.get("/accounts/login?next=/c/spring").get_data(as_text=True)
    assert "用短信验证码登录" in login_page and "忘记密码" in login_page and "next=/c/spring" in login_page

    client.post("/accounts/login/sms?next=/c/spring", data={"phone": user.phone, "send_code": "1"})
    wrong = client.post("/accounts/login/sms?next=/c/spring", data={"phone": user.phone, "sms_code": "99999x", "submit": "1"})
    assert wrong.status_code == 422 and "验证码错误或已过期" in wrong.get_data(as_text=True)
    done = client.post(
        "/accounts/login/sms?next=/c/spring", data={"phone": user.phone, "sms_code": last_code(app, user.phone), "submit": "1"}
    )
    assert done.status_code == 302 and done.headers["Location"] == "/c/spring"

    other = app.test_client()
    db.session.execute(sa.update(SmsCode).values(created_at=utcnow().replace(year=2020)))  # past the resend interval
    db.session.commit()
    assert _ask_code(other, user.phone, "login").status_code == 202
    token = other.post("/api/v1/auth/token", json={"phone": user.phone, "sms_code": last_code(app, user.phone)})
    assert token.status_code == 200 and token.get_json()["user"]["id"] == user.id


def test_forgotten_password_reset_by_code_ends_every_token(client, api_as, app):
    user = make_user(phone="13800138011")
    old = api_as(user)
    assert old.get("/me").status_code == 200

    client.post("/accounts/password/forgot", data={"phone": user.phone, "send_code": "1"})
    assert "重置拼帮密码的验证码" in texts_to(app, user.phone)[-1]
    short = client.post(
        "/accounts/password/forgot",
        data={"phone": user.phone, "sms_code": last_code(app, user.phone), "new_password": "short", "submit": "1"},
    )
    assert short.status_code == 422 and "至少 8 个字符" in short.get_data(as_text=True)
    done = client.post(
        "/accounts/password/forgot?next=/c/spring",
        data={"phone": user.phone, "sms_code": last_code(app, user.phone), "new_password": "new-secret-1", "submit": "1"},
    )
    assert done.status_code == 302 and "/accounts/login" in done.headers["Location"]
    assert old.get("/me").status_code == 401
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))) == 0
    assert client.post("/api/v1/auth/token", json={"login": user.phone, "password": "password123"}).status_code == 401
    assert client.post("/api/v1/auth/token", json={"login": user.phone, "password": "new-secret-1"}).status_code == 200


def test_password_reset_by_api_with_a_wrong_code_changes_nothing(client, api_as, app):
    user = make_user(phone="13800138012")
    session = api_as(user)
    _ask_code(client, user.phone, "reset")
    response = client.post(
        "/api/v1/auth/password-reset", json={"phone": user.phone, "sms_code": "12345", "new_password": "new-secret-1"}
    )
    assert response.status_code == 422
    assert session.get("/me").status_code == 200
    response = client.post(
        "/api/v1/auth/password-reset",
        json={"phone": user.phone, "sms_code": last_code(app, user.phone), "new_password": "new-secret-1"},
    )
    assert response.status_code == 200 and session.get("/me").status_code == 401


def test_codes_per_phone_and_per_address_are_limited(client, app):
    app.config["SMS_CODE_RULES"] = replace(RULES, resend_seconds=0, per_phone_per_hour=2, per_address_per_hour=3)
    assert [_ask_code(client, "13800138013", "login").status_code for _ in range(3)] == [202, 202, 429]
    assert _ask_code(client, "13800138014", "login").status_code == 202
    refused = _ask_code(client, "13800138015", "login")
    assert refused.status_code == 429 and "网络" in refused.get_json()["error"]["message"]
    assert texts_to(app, "13800138015") == []


@pytest.fixture
def gateway(app):
    gateway = Gateway()
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, SMS_API_KEY="k-1")
    yield gateway
    gateway.close()


def test_the_code_goes_out_through_the_http_gateway_at_once_and_a_failure_keeps_nothing(client, invite, gateway):
    gateway.status = 503
    failed = _ask_code(client, "13800138016", "register")
    assert failed.status_code == 503 and failed.get_json()["error"]["code"] == "sms_unavailable"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SmsCode)) == 0
    gateway.status = 200
    assert _ask_code(client, "13800138016", "register").status_code == 202  # at once: the failure did not count
    [text] = gateway.texts_to("13800138016")[-1:]
    assert text.startswith("【拼帮】")
    response = client.post(
        "/api/v1/auth/register", json={"invite": invite, "phone": "13800138016", "sms_code": code_in(text), "name": "褚"}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body",
    [{"password": "x", "phone": "13800138017", "sms_code": "123456"}, {"login": "13800138017", "sms_code": "1"}, {}],
)
def test_a_token_request_mixing_both_ways_is_answered_cleanly(client, body):
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "validation_error"
