"""Items charged by the weighed kilogram: built with a price per kg, pledged by the expected weight, shown so."""

from datetime import timedelta

from factories import make_campaign, make_listing, make_producer, make_user


def test_an_item_charged_by_weight_pledges_the_expected_weight(app, api_as, client):
    operator = api_as(make_user(role="operator"))
    chicken = make_listing(make_producer(), name="雪毛鸡", unit="只", price_fen=9800, unit_weight_g=1500)
    campaign = make_campaign(status="draft", opens_in=timedelta(hours=1))
    response = operator.post(
        f"/campaigns/{campaign.id}/items",
        json={"price_per_kg_fen": 3000, "supplies": [{"listing_id": chicken.id, "quantity": 20}]},
    )
    assert response.status_code == 201, response.get_json()
    item = response.get_json()
    # 1.5 kg expected at ¥30/kg: ¥45 a piece pledged, charged by what it weighs at delivery.
    assert (item["price_fen"], item["price_per_kg_fen"], item["by_weight"], item["unit_weight_kg"]) == (4500, 3000, True, 1.5)
    both = operator.post(
        f"/campaigns/{campaign.id}/items",
        json={"price_per_kg_fen": 3000, "price_fen": 100, "supplies": [{"listing_id": chicken.id, "quantity": 1}]},
    )
    assert both.status_code == 422 and "price_fen" in both.get_json()["error"]["details"]["fields"]
    assert operator.post(f"/campaigns/{campaign.id}/publish").status_code == 200
    page = client.get(f"/c/{campaign.slug}").get_data(as_text=True)
    assert "by-weight" in page and "¥30.00" in page and "1.5 kg" in page


def test_weight_needs_an_expected_weight_per_piece(app, api_as):
    operator = api_as(make_user(role="operator"))
    honey = make_listing(make_producer(), name="蜂蜜", unit="瓶", price_fen=6800, unit_weight_g=None)
    campaign = make_campaign(status="draft", opens_in=timedelta(hours=1))
    response = operator.post(
        f"/campaigns/{campaign.id}/items",
        json={"price_per_kg_fen": 3000, "supplies": [{"listing_id": honey.id, "quantity": 5}]},
    )
    assert response.status_code == 422
    assert "price_per_kg_fen" in response.get_json()["error"]["details"]["fields"]
