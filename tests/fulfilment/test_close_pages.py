"""Pages after close: the operator's allocation view and close button, the producer's pick list, print and xlsx."""

from datetime import timedelta
from io import BytesIO

import openpyxl
import sqlalchemy as sa

from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user
from fulfilment import closing, picklists
from producers.models import PicklistAck
from shop.models import Campaign


def test_an_operator_closes_early_from_the_campaign_page(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people, closes_in=timedelta(days=1))
    operator = make_user(role="operator")
    auth.login(operator.phone)

    page = client.get(f"/fulfilment/campaigns/{s.campaign.id}").get_data(as_text=True)
    assert "立即截止" in page
    question = client.get(f"/fulfilment/campaigns/{s.campaign.id}/close").get_data(as_text=True)
    assert "无法撤销" in question and "是，立即截止" in question
    unconfirmed = client.post(f"/fulfilment/campaigns/{s.campaign.id}/close")
    assert unconfirmed.status_code == 200 and "是，立即截止" in unconfirmed.get_data(as_text=True)
    assert db.session.get(Campaign, s.campaign.id).status == "published"
    response = client.post(f"/fulfilment/campaigns/{s.campaign.id}/close", data={"confirm": "yes"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "活动已截止，不再接受订购" in text
    assert db.session.get(Campaign, s.campaign.id).status == "closed"
    assert "立即截止" not in text


def test_the_operator_sees_the_split_and_who_confirmed(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    picklists.ack_picklist(make_user(role="producer", producer=people.poor), people.poor.id, s.campaign.id)
    auth.login(make_user(role="operator").phone)

    text = client.get(f"/fulfilment/campaigns/{s.campaign.id}").get_data(as_text=True)
    union, women, _ = people.units
    assert "秀水镇雪毛鸡合作社" in text and f"{union.name}：40 只" in text
    assert "未达到成团数量 500，已取消" in text
    assert "2 家生产者中已有 1 家确认" in text
    assert client.get("/fulfilment/").status_code == 200


def test_buyers_and_producers_cannot_see_the_allocation_view(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    auth.login(people.wang.phone)
    assert client.get(f"/fulfilment/campaigns/{s.campaign.id}").status_code == 403
    assert client.post(f"/fulfilment/campaigns/{s.campaign.id}/close").status_code == 403
    assert db.session.get(Campaign, s.campaign.id).status == "published"


def test_a_producer_reads_its_pick_list_and_confirms_ready(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    user = make_user(role="producer", producer=people.coop)
    auth.login(user.phone)

    listing = client.get("/fulfilment/picklists").get_data(as_text=True)
    assert "春季消费扶贫" in listing and "待确认" in listing
    page = client.get(f"/fulfilment/picklists/{s.campaign.id}").get_data(as_text=True)
    union, _women, _ = people.units
    assert "52 只" in page and union.address in page
    assert "确认按时备好" in page

    response = client.post(f"/fulfilment/picklists/{s.campaign.id}/ack", follow_redirects=True)
    assert "您已确认将按时备好货物" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(PicklistAck.acked_by_id)) == user.id


def test_the_printable_sheet_and_the_xlsx(client, auth):
    people = make_pooling_people()
    people.units[0].name = '=HYPERLINK("http://evil")'
    db.session.commit()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    auth.login(make_user(role="producer", producer=people.coop).phone)

    printable = client.get(f"/fulfilment/picklists/{s.campaign.id}/print").get_data(as_text=True)
    assert "备货单" in printable and "收货人" in printable and "navbar" not in printable

    response = client.get(f"/fulfilment/picklists/{s.campaign.id}.xlsx")
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(BytesIO(response.data)).active
    rows = [tuple(c for c in row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][:2] == ("备货单", "春季消费扶贫")
    assert ("雪毛鸡", "只", 52, None, None, None, None) in rows
    # The same formula-safety rule as every export: the name kept exactly as typed, in a text cell, never a formula.
    assert ("雪毛鸡", "只", None, '=HYPERLINK("http://evil")', people.units[0].address, None, 40) in rows
    name_cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == '=HYPERLINK("http://evil")']
    assert name_cells and all(cell.data_type == "s" and cell.quotePrefix for cell in name_cells)
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_a_producer_cannot_open_another_producers_pick_list_pages(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    auth.login(make_user(role="producer", producer=people.eggs).phone)
    # Its own: nothing this time. Operators pick the producer with ?producer=, producers never can.
    own = client.get(f"/fulfilment/picklists/{s.campaign.id}?producer={people.coop.id}").get_data(as_text=True)
    assert "本次活动无需备货" in own and "雪毛鸡" not in own
    assert client.get("/fulfilment/picklists/999999").status_code == 404


def test_an_operator_opens_any_producers_pick_list(client, auth):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    auth.login(make_user(role="operator").phone)
    page = client.get(f"/fulfilment/picklists/{s.campaign.id}?producer={people.poor.id}").get_data(as_text=True)
    assert "陈华养鸡户" in page and "15 只" in page and "尚未确认" in page
    assert client.get(f"/fulfilment/picklists/{s.campaign.id}.xlsx?producer={people.poor.id}").status_code == 200
