"""`flask seed-demo` brings a campaign to order from right away, and one that opens later."""

import sqlalchemy as sa

from extensions import db
from shop.models import Campaign


def test_the_demo_has_an_open_campaign_and_an_upcoming_one(runner, api):
    runner.invoke(args=["seed-demo"])
    from demo.seed import DEMO_PASSWORD

    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 2
    api.login("13900000005", password=DEMO_PASSWORD)
    campaigns = api.get("/campaigns").get_json()["items"]
    phases = {c["title"]: c["phase"] for c in campaigns}
    assert phases == {"乐昌消费扶贫·春季助农专场": "open", "年货节预告：丝苗米和红薯干": "scheduled"}
    spring = next(c for c in campaigns if c["phase"] == "open")
    items = {item["title"]: item for item in api.get(f"/campaigns/{spring['id']}").get_json()["items"]}
    assert items["雪毛鸡"]["remaining"] == 3400 and len(items["雪毛鸡"]["producers"]) == 2
    order = api.post(
        f"/campaigns/{spring['id']}/orders",
        json={"lines": [{"item_id": items["土鸡蛋"]["id"], "quantity": 30}, {"item_id": items["雪毛鸡"]["id"], "quantity": 2}]},
    )
    assert order.status_code == 201 and order.get_json()["total_fen"] == 30 * 150 + 2 * 9800
    # Running the seed again adds no second copy of the campaigns.
    runner.invoke(args=["seed-demo"])
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Campaign)) == 2
