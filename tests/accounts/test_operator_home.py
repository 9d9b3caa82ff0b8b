"""The operators' home shows what needs doing: listings to review, campaigns taking orders with their progress and
closing times, pick lists not confirmed in time, failed messages and lagging units; the API gives the same."""

from datetime import date, timedelta

import pytest

from database import local_today, utcnow
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_producer, make_unit, make_user
from notifications.models import Notification
from producers.models import PicklistAck
from units.models import UnitTarget


@pytest.fixture
def agenda_world(monkeypatch):
    import units.targets

    year = local_today().year
    monkeypatch.setattr(units.targets, "local_today", lambda: date(year, 7, 1))  # half the year gone, whatever today is
    make_listing(name="红薯干", status="pending")
    make_listing(name="蜂蜜", status="pending")
    running = make_campaign(title="冬季助农进行中", closes_in=timedelta(hours=30))
    chicken = make_item(running, [(make_listing(name="雪毛鸡", unit="只", price_fen=1000), 100)], min_total=50)
    eggs = make_item(running, [(make_listing(name="鸡蛋", unit="个", price_fen=100), 1000)])
    chicken.ordered, eggs.ordered = 37, 300
    make_campaign(title="草稿活动", status="draft")

    pooled = make_campaign(title="秋季助农已截止", status="allocated", opens_in=timedelta(days=-5), closes_in=timedelta(days=-2))
    pooled.allocated_at = utcnow() - timedelta(hours=20)
    late, prompt = make_producer(name="迟未确认合作社", phone="13812340001"), make_producer(name="已确认农户")
    item = make_item(
        pooled, [(make_listing(late, name="马蹄", unit="斤"), 50), (make_listing(prompt, name="马蹄", unit="斤"), 50)]
    )
    make_allocation(item, late, 30)
    make_allocation(item, prompt, 20)
    db.session.add(PicklistAck(campaign_id=pooled.id, producer_id=prompt.id))

    fresh = make_campaign(title="刚截止的活动", status="allocated", opens_in=timedelta(days=-3), closes_in=timedelta(hours=-2))
    fresh.allocated_at = utcnow() - timedelta(hours=1)  # within its time to confirm
    just = make_producer(name="刚收到备货单的农户")
    make_allocation(make_item(fresh, [(make_listing(just, name="大米", unit="袋"), 10)]), just, 5)

    behind, _no_target = make_unit(name="落后的单位"), make_unit(name="无目标的单位")
    db.session.add(UnitTarget(unit_id=behind.id, year=year, canteen_budget_fen=1_000_000, canteen_share_pct=10))
    for n in range(3):
        db.session.add(
            Notification(
                recipient="user:1", channel="sms", kind="picklist", subject=f"x:{n}", title="t", body="b", status="failed"
            )
        )
    db.session.commit()
    return running, pooled, late, behind


def test_the_home_page_lists_what_needs_doing(client, auth, agenda_world):
    running, pooled, late, behind = agenda_world
    auth.login(make_user(role="operator").phone)
    html = client.get("/accounts/operator").get_data(as_text=True)

    assert "待办事项" in html
    assert 'id="home-reviews" href="/producers/review"' in html and ">2</div><div>待审核的商品" in html
    assert 'id="home-failed" href="/notifications/failed"' in html and ">3</div><div>发送失败的消息" in html
    assert "冬季助农进行中" in html and f"/campaigns/{running.id}/manage" in html and "截止" in html
    assert "已订 37 / 50 只" in html and "还差 13 只成团" in html
    assert "已订 37 / 供应 100 只（37%）" in html and "已订 300 / 供应 1000 个（30%）" in html
    assert "供应量已售出33%（按金额）" in html  # (370 + 300) ÷ (1000 + 1000) yuan
    assert "1 个商品未达成团量" in html
    assert "草稿活动" not in html
    assert "迟未确认合作社" in html and "秋季助农已截止" in html and 'href="tel:13812340001"' in html
    assert "已确认农户" not in html and "刚收到备货单的农户" not in html
    assert "落后的单位" in html and "无目标的单位" not in html
    assert f"/units/{behind.id}/targets/" in html


def test_the_home_page_is_for_operators_only(client, auth, agenda_world):
    auth.login(make_user().phone)
    assert client.get("/accounts/operator").status_code == 403


def test_the_api_gives_the_same_agenda(client, api, agenda_world):
    running, pooled, late, behind = agenda_world
    api.login(make_user(role="operator").phone)
    body = api.get("/operator/home").get_json()
    assert body["pending_reviews"] == 2 and body["failed_messages"] == 3
    [campaign] = body["open_campaigns"]
    assert campaign["id"] == running.id and campaign["sold_pct"] == 33 and campaign["closes_at"].endswith("+08:00")
    chicken = next(item for item in campaign["items"] if item["title"] == "雪毛鸡")
    assert (chicken["ordered"], chicken["min_total"], chicken["short_of_minimum"], chicken["capacity"]) == (37, 50, 13, 100)
    assert [(row["campaign_id"], row["producer_id"], row["quantity"]) for row in body["overdue_confirmations"]] == [
        (pooled.id, late.id, 30)
    ]
    assert [(row["unit_id"], row["completed_pct"], row["expected_pct"]) for row in body["lagging_units"]] == [(behind.id, 0, 50)]


def test_the_api_refuses_everyone_but_operators(client, api, agenda_world):
    assert api.get("/operator/home").status_code == 401
    api.login(make_user().phone)
    assert api.get("/operator/home").status_code == 403
