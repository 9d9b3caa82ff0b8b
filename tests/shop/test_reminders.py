"""Reminders before a campaign closes, on SQLite and PostgreSQL in the same run: buyers of an item short of its
minimum are told once, everyone eligible who has not ordered at most once, nobody who turned reminders off, and
two sweeps at the same moment send nothing twice."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_unit, make_user
from notifications.models import Notification
from racing import run_at_once
from shop import reminders
from shop.models import CampaignReminder


@pytest.fixture
def world(backend_app):
    """Unit 甲 (buyer of chicken, buyer of eggs, one who has not ordered, one who turned reminders off) and unit 乙,
    which the campaign is not open to; the campaign closes in 10 hours; chicken is short of its minimum."""
    unit, other = make_unit(name="甲单位"), make_unit(name="乙单位")
    people = {
        "chicken_buyer": make_user(unit=unit, name="钱晓燕"),
        "egg_buyer": make_user(unit=unit, name="孙立伟"),
        "idle": make_user(unit=unit, name="周淑芬"),
        "quiet": make_user(unit=unit, name="吴国强", campaign_reminders=False),
        "elsewhere": make_user(unit=other, name="郑海涛"),
    }
    campaign = make_campaign(title="冬季消费扶贫", closes_in=timedelta(hours=10), units=[unit])
    chicken = make_item(campaign, [(make_listing(name="雪毛鸡", unit="只", price_fen=9800), 100)], min_total=50)
    eggs = make_item(campaign, [(make_listing(name="鸡蛋", unit="个", price_fen=150), 500)], min_total=10)
    make_order(campaign, [(chicken, 7)], user=people["chicken_buyer"])
    make_order(campaign, [(eggs, 30)], user=people["egg_buyer"])
    make_order(campaign, [(chicken, 2)], user=people["quiet"])
    return campaign, chicken, eggs, people


def _inbox(user):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Notification).where(Notification.recipient == f"user:{user.id}").order_by(Notification.id)
    ).all()


def test_buyers_of_an_item_short_of_its_minimum_are_told_how_far_it_is_and_what_to_do(world):
    campaign, _chicken, _eggs, people = world

    reminders.send_campaign_reminders()

    [message] = _inbox(people["chicken_buyer"])
    assert message.channel == "inapp"  # a reminder is never an SMS or an email
    assert message.kind == "reminder_below_minimum"
    assert "雪毛鸡（已订 9 / 50 只）" in message.body
    assert "冬季消费扶贫" in message.title
    assert "不收取任何费用" in message.body  # what happens if it stays short
    assert "/accounts/reminders" in message.body  # the opt-out link
    assert "鸡蛋" not in message.body  # eggs reached their minimum


def test_eligible_people_who_have_not_ordered_get_one_reminder_and_no_one_else_does(world):
    campaign, _chicken, _eggs, people = world

    reminders.send_campaign_reminders()

    [message] = _inbox(people["idle"])
    assert message.kind == "reminder_not_ordered"
    assert "雪毛鸡" in message.body and "鸡蛋" in message.body
    assert f"/c/{campaign.slug}" in message.body and "自愿" in message.body
    assert "/accounts/reminders" in message.body
    assert _inbox(people["egg_buyer"]) == []  # ordered, and eggs reached their minimum
    assert _inbox(people["quiet"]) == []  # turned reminders off
    assert _inbox(people["elsewhere"]) == []  # the campaign is not open to their unit


def test_a_rerun_sends_nothing_again_even_when_the_item_is_still_short(world):
    campaign, _chicken, _eggs, people = world
    assert reminders.send_campaign_reminders() == 2
    assert reminders.send_campaign_reminders() == 0
    assert len(_inbox(people["chicken_buyer"])) == 1 and len(_inbox(people["idle"])) == 1
    kinds = db.session.execute(sa.select(CampaignReminder.user_id, CampaignReminder.kind)).all()
    assert sorted(kinds) == sorted([(people["chicken_buyer"].id, "below_minimum"), (people["idle"].id, "not_ordered")])


def test_nothing_is_sent_long_before_the_close_or_after_it(world):
    campaign, _chicken, _eggs, people = world
    campaign.closes_at = campaign.opens_at + timedelta(days=5)
    db.session.commit()
    assert reminders.send_campaign_reminders() == 0
    campaign.status = "closed"
    db.session.commit()
    assert reminders.remind_campaign(campaign.id) == 0
    assert _inbox(people["idle"]) == []


def test_a_person_who_turns_reminders_off_gets_none(world):
    from accounts.preferences import set_campaign_reminders

    _campaign, _chicken, _eggs, people = world
    set_campaign_reminders(people["chicken_buyer"], False)
    set_campaign_reminders(people["idle"], False)
    assert reminders.send_campaign_reminders() == 0


def test_two_sweeps_at_the_same_moment_send_each_reminder_once(world, backend_app):
    campaign, chicken, _eggs, people = world
    for n in range(20):  # more people, so the two sweeps overlap
        make_user(unit=campaign.units[0], name=f"同事{n}")
    people_count = 1 + 1 + 20  # the chicken buyer, the idle colleague, the twenty

    results, errors = run_at_once(backend_app, reminders.send_campaign_reminders, times=2)

    assert errors == []
    assert sum(results) == people_count
    rows = db.session.execute(
        sa.select(Notification.recipient, sa.func.count())
        .where(Notification.kind.like("reminder_%"))
        .group_by(Notification.recipient)
    ).all()
    assert len(rows) == people_count and {count for _r, count in rows} == {1}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CampaignReminder)) == people_count
