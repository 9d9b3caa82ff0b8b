"""On delivery day the pick list says whom to call: each unit's coordinator and phone, the unit's phone, and the
producer's own phone, all tap-to-call; the page and the printable sheet have a 打印 button."""

import re

from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing, picklists


def _pooled():
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    union, women, _ = people.units
    union.contact_phone = "0751-5551234"
    db.session.commit()
    closing.close_campaign(s.campaign.id)
    return people, s


def test_the_pick_list_names_each_units_coordinator_and_phones(client, auth):
    people, s = _pooled()
    union, women, _ = people.units
    data = picklists.picklist(make_user(role="operator"), people.coop.id, s.campaign.id)
    units = {unit["unit_name"]: unit for line in data["lines"] for unit in line["units"]}
    assert units[women.name]["contacts"] == [{"name": "陈静", "phone": people.chen.phone}]
    assert units[union.name]["contacts"] == []  # 王芳 orders, but is no coordinator
    assert data["producer_phone"] == people.coop.phone

    auth.login(make_user(role="producer", producer=people.coop).phone)
    for path in (f"/fulfilment/picklists/{s.campaign.id}", f"/fulfilment/picklists/{s.campaign.id}/print"):
        page = client.get(path).get_data(as_text=True)
        assert re.search(rf'陈静</span> <a href="tel:{people.chen.phone}">{people.chen.phone}</a>', page), path
        assert '<a href="tel:07515551234">0751-5551234</a>' in page  # the unit's own phone, dialable
        assert f'href="tel:{people.coop.phone}"' in page  # the producer's phone
        assert re.search(r"<button[^>]*data-print[^>]*>打印</button>", page), path
        assert 'class="name">陈静' in page  # kept on one line in print


def test_the_api_carries_the_same_contacts(client, api_as):
    people, s = _pooled()
    api = api_as(make_user(role="producer", producer=people.coop))
    body = api.get(f"/producers/{people.coop.id}/picklist?campaign_id={s.campaign.id}").get_json()
    contacts = [c for line in body["lines"] for unit in line["units"] for c in unit["contacts"]]
    assert {"name": "陈静", "phone": people.chen.phone} in contacts
    assert body["producer_phone"] == people.coop.phone
