"""A person turns the reminders before a campaign closes off (and on again): on their account page, through the link
every reminder ends with, and by API; each change is audited, and bad input changes nothing."""

import sqlalchemy as sa

from accounts.models import AuditEntry, User
from extensions import db
from factories import make_user


def _reminders_on(user) -> bool:
    db.session.expire_all()
    return db.session.get(User, user.id).campaign_reminders


def test_the_account_page_leads_to_the_setting_and_one_tap_turns_reminders_off(client, auth):
    buyer = make_user()
    auth.login(buyer.phone)
    account = client.get("/accounts/password").get_data(as_text=True)
    assert "提醒已开启" in account and 'href="/accounts/reminders"' in account

    page = client.get("/accounts/reminders").get_data(as_text=True)
    assert "关闭提醒" in page and "自愿" in page
    response = client.post("/accounts/reminders", data={"campaign_reminders": "off"}, follow_redirects=True)
    assert "提醒已关闭" in response.get_data(as_text=True)
    assert _reminders_on(buyer) is False
    assert "开启提醒" in client.get("/accounts/reminders").get_data(as_text=True)

    client.post("/accounts/reminders", data={"campaign_reminders": "on"})
    assert _reminders_on(buyer) is True
    actions = db.session.scalars(sa.select(AuditEntry.action).where(AuditEntry.actor_id == buyer.id).order_by(AuditEntry.id))
    assert list(actions) == ["user.reminders.off", "user.reminders.on"]


def test_the_setting_needs_a_login(client):
    response = client.get("/accounts/reminders")
    assert response.status_code == 302 and "/accounts/login" in response.headers["Location"]


def test_the_api_turns_reminders_off_for_oneself_only(client, api):
    buyer, colleague = make_user(), make_user()
    api.login(buyer.phone)
    assert api.get("/me").get_json()["campaign_reminders"] is True

    response = api.patch("/me", json={"campaign_reminders": False})
    assert response.status_code == 200 and response.get_json()["campaign_reminders"] is False
    assert _reminders_on(buyer) is False and _reminders_on(colleague) is True


def test_bad_input_changes_nothing(client, api):
    buyer = make_user()
    api.login(buyer.phone)
    for body in ({}, {"campaign_reminders": "no"}, {"campaign_reminders": 0}, {"campaign_reminders": None}):
        response = api.patch("/me", json=body)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == "validation_error"
    assert _reminders_on(buyer) is True
    assert api.patch("/me", json={"campaign_reminders": False}, headers={"Authorization": ""}).status_code == 401


def test_a_form_without_a_choice_changes_nothing(client, auth):
    buyer = make_user()
    auth.login(buyer.phone)
    response = client.post("/accounts/reminders", data={"campaign_reminders": "maybe"})
    assert response.status_code == 422 and "请选择开启或关闭" in response.get_data(as_text=True)
    assert _reminders_on(buyer) is True
