"""Control characters typed or pasted into any text field are stripped (line breaks refused on one line), in every page
form and every API field; and every xlsx still downloads when older rows hold them."""

from datetime import date, timedelta
from io import BytesIO

import marshmallow as ma
import openpyxl
import sqlalchemy as sa
from flask_wtf import FlaskForm

from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing
from plain_text import PlainText, PlainTextForm
from producers.models import Listing
from shop.models import Campaign


def campaign_form(**fields):
    return {
        "title": "乐昌年货节",
        "description": "帮扶产品",
        "opens_at": "2031-01-10T09:00",
        "closes_at": "2031-01-20T18:30",
        "delivery_on": "2031-01-25",
        **fields,
    }


def test_an_operators_campaign_title_on_the_page_loses_its_control_characters(client, auth):
    auth.login(make_user(role="operator").phone)
    form = campaign_form(title="乐昌\x07年货\x1b节\x85", description="第一行\r\n第二行\t\x00说明")
    response = client.post("/campaigns/new", data=form, content_type="multipart/form-data")
    assert response.status_code == 302
    campaign = db.session.scalar(sa.select(Campaign))
    assert campaign.title == "乐昌年货节"
    assert campaign.description == "第一行\n第二行\t说明"  # a description keeps its lines and tabs


def test_a_line_break_in_a_one_line_title_is_refused_on_the_page(client, auth):
    auth.login(make_user(role="operator").phone)
    response = client.post("/campaigns/new", data=campaign_form(title="乐昌\r\n年货节"), content_type="multipart/form-data")
    assert response.status_code == 422
    assert "请只写一行：去掉换行。" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 0


def test_the_api_refuses_them_as_its_spec_declares(api_as):
    """Pages strip what nobody means to type; the API, whose OpenAPI patterns exclude control characters, refuses
    them with a clear message and saves nothing (an API client can fix its own text)."""
    operator = api_as(make_user(role="operator"))
    body = {
        "title": "春节消费扶贫专场",
        "description": "乐昌\r\n农产品",
        "opens_at": "2030-01-10T09:00:00+08:00",
        "closes_at": "2030-01-20T18:00",
        "delivery_on": "2030-01-25",
    }
    created = operator.post("/campaigns", json=body)
    assert created.status_code == 201, created.get_json()
    assert db.session.get(Campaign, created.get_json()["id"]).description == "乐昌\n农产品"

    for title in ("春节\x07消费扶贫\x9b专场", "\x07\x1b"):
        refused = operator.post("/campaigns", json={**body, "title": title})
        assert refused.status_code == 422
        assert refused.get_json()["error"]["details"]["fields"]["title"] == ["请去掉控制字符和首尾空格。"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 1


def test_a_listing_name_with_them_is_refused_through_the_api(api_as):
    farmer = api_as(make_user(role="producer"))
    body = {
        "name": "土鸡\x1f蛋",
        "category": "蛋类",
        "unit": "个",
        "price_fen": 150,
        "quantity": 100,
        "ready_on": (date.today() + timedelta(days=2)).isoformat(),
    }
    refused = farmer.post("/listings", json=body)
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"]["fields"]["name"] == ["请填写单行纯文本，不能包含 < 或 >，首尾不能有空格。"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Listing)) == 0


def test_the_pick_list_xlsx_downloads_with_control_characters_already_in_the_database(client, auth):
    people = make_pooling_people()
    union = people.units[0]
    union.address = "乐城街道\x0b人民中路\x1b1号\x85"
    people.coop.name = "秀水镇\x07雪毛鸡合作社"
    db.session.commit()
    s = make_pooling_campaign(people, title="春季\x02消费扶贫")
    s.chicken.title = "雪毛\x08鸡\x7f"
    db.session.commit()
    closing.close_campaign(s.campaign.id)
    auth.login(make_user(role="producer", producer=people.coop).phone)

    response = client.get(f"/fulfilment/picklists/{s.campaign.id}.xlsx")
    assert response.status_code == 200
    rows = list(openpyxl.load_workbook(BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0][:2] == ("备货单", "春季消费扶贫")
    assert ("雪毛鸡", "只", None, union.name, "乐城街道人民中路1号", None, 40) in rows
    assert client.get(f"/fulfilment/picklists/{s.campaign.id}").status_code == 200
    assert client.get(f"/fulfilment/picklists/{s.campaign.id}/print").status_code == 200


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def _declares_what_it_takes(field):
    """A choice, a phone, an email or a login is no typed text: its declared pattern or choices leave no room for
    control characters (a NUL is refused by api.NO_NUL)."""
    validators = field.validators if isinstance(field.validators, list) else [field.validators]
    return "pattern" in field.metadata or any(isinstance(v, ma.validate.Regexp | ma.validate.OneOf) for v in validators)


def test_every_form_and_every_api_text_field_follows_the_rule(app):
    """A new form on FlaskForm, or a new API field on marshmallow's String, would skip the rule: this fails then."""
    ours = ("accounts", "dashboard", "fulfilment", "notifications", "orders", "producers", "shop", "units", "api")
    forms = [f for f in _all_subclasses(FlaskForm) if f.__module__.split(".")[0] in ours]
    assert forms and [f.__qualname__ for f in forms if not issubclass(f, PlainTextForm)] == []
    schemas = [s for s in _all_subclasses(ma.Schema) if s.__module__.split(".")[0] in ours]
    bare = [
        f"{schema.__module__}.{schema.__name__}.{name}"
        for schema in schemas
        for name, field in schema._declared_fields.items()
        if isinstance(field, ma.fields.String)
        and not isinstance(field, PlainText)
        and "password" not in name
        and not _declares_what_it_takes(field)
    ]
    assert schemas and bare == []
