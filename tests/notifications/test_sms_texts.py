"""Every SMS says on its own what happened, to which goods and what to do, in one segment where the content allows.

A phone shows no title: the text with the 【拼帮】 signature the channel adds must hold everything, within 70
characters (one segment in Chinese).
"""

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_listing, make_producer, make_user
from notifications import messages, running_campaigns
from notifications.models import Notification
from notifications.rendering import SMS_SEGMENT, signed_sms
from producers.review import approve_listing, reject_listing

CAMPAIGN = SimpleNamespace(
    id=12,
    title="乐昌春季消费扶贫团购",
    delivery_on=date(2026, 12, 15),
    closes_at=datetime(2026, 12, 10, 10, 0, tzinfo=UTC),
    cancel_reason="冰冻天气，道路封闭",
)
PRODUCER = "乐昌市北乡镇雪毛鸡专业合作社"
UNITS = [{"unit_name": f"乐昌市第{n}中学", "address": f"乐城街道学府路{n}号 教学楼一楼传达室", "quantity": 20} for n in range(6)]
PICK = [
    {"title": "雪毛鸡", "unit": "只", "quantity": 120, "units": UNITS},
    {"title": "土鸡蛋", "unit": "个", "quantity": 600, "units": UNITS[:3]},
]


def _line(title, unit, quantity):
    return SimpleNamespace(item=SimpleNamespace(title=title, unit=unit), quantity=quantity, cancelled=False)


ORDER = SimpleNamespace(
    id=42,
    number="C12-0042",
    campaign=CAMPAIGN,
    total_fen=21100,
    lines=[_line("雪毛鸡", "只", 2), _line("土鸡蛋", "个", 10)],
)
LISTING = SimpleNamespace(name="天堂姜", quantity_left=5000, unit="斤", reject_reason="照片不清楚，请补拍一张货品照片")


def every_sms():
    """(kind, sms) for every message that goes out by SMS, rendered with long-ish realistic data."""
    yield "picklist", messages.prepare_goods(PRODUCER, CAMPAIGN, PICK)[2]
    yield "delivery_reminder", messages.delivery_reminder(PRODUCER, CAMPAIGN, PICK)[2]
    yield "no_allocation", messages.nothing_this_time(PRODUCER, CAMPAIGN, ["雪毛鸡", "土鸡蛋"])[2]
    entries = [{"title": "天堂姜", "unit": "斤", "quantity": 5, "buyer_name": None}]
    yield "below_minimum", messages.cancelled_below_minimum(CAMPAIGN, entries)[2]
    yield "campaign_sold_out", running_campaigns.campaign_sold_out(CAMPAIGN)[2]
    yield "cancelled_to_buyer", running_campaigns.campaign_cancelled_to_buyer(CAMPAIGN)[2]
    yield "cancelled_to_producer", messages.campaign_cancelled_to_producer(PRODUCER, CAMPAIGN)[2]
    yield "listing_approved", messages.listing_approved(LISTING)[2]
    yield "listing_rejected", messages.listing_rejected(LISTING)[2]
    yield "payout", messages.payout_made(CAMPAIGN, 1234500, "transfer")[2]
    lines = [("雪毛鸡", 2, "只"), ("土鸡蛋", 10, "个")]
    for registered in (True, False):
        yield (
            "ordered_for_you",
            messages.ordered_for_you_sms("王芳", "乐昌市总工会", CAMPAIGN, lines, 21100, registered=registered),
        )
    yield "order_confirmed", messages.order_confirmed(ORDER)[2]
    yield "order_changed", messages.order_changed(ORDER)[2]
    yield "order_cancelled", messages.order_cancelled(ORDER)[2]
    for purpose in ("register", "login", "reset"):
        yield "sms_code", messages.sms_code(purpose, "204816", 10)


@pytest.fixture
def zh(app):
    with app.test_request_context():
        yield


def test_every_sms_fits_one_segment_with_the_signature(zh):
    too_long = {kind: (len(signed_sms(text)), text) for kind, text in every_sms() if len(signed_sms(text)) > SMS_SEGMENT}
    assert too_long == {}


def test_each_sms_names_its_goods_and_says_what_to_do(zh):
    texts = dict(every_sms())
    assert "天堂姜" in texts["listing_approved"] and "已审核通过" in texts["listing_approved"]
    assert "5000斤" in texts["listing_approved"]
    assert "天堂姜" in texts["listing_rejected"] and "未通过" in texts["listing_rejected"]
    assert "照片不清楚" in texts["listing_rejected"] and "重新审核" in texts["listing_rejected"]
    # The pick list: which campaign, by when, what, how many delivery points, and where to read the rest.
    pick = texts["picklist"]
    assert CAMPAIGN.title in pick and "12月15日" in pick and "6个单位" in pick and "配货单" in pick
    assert "雪毛鸡" in pick or "2种货品" in pick
    assert "C12-0042" in texts["order_confirmed"] and "2项" in texts["order_confirmed"]  # two lines do not fit: counted
    one_line = SimpleNamespace(**{**vars(ORDER), "lines": ORDER.lines[:1]})
    assert "雪毛鸡 × 2只" in messages.order_confirmed(one_line)[2]
    assert "C12-0042" in texts["order_cancelled"] and "不收费" in texts["order_cancelled"]
    assert "冰冻天气" in texts["cancelled_to_buyer"] and "不会收取" in texts["cancelled_to_buyer"]
    assert "无需备货" in texts["cancelled_to_producer"]
    assert "¥12,345.00" in texts["payout"] or "12345" in texts["payout"].replace(",", "")
    assert all("，" in text or "。" in text for text in texts.values())  # Chinese punctuation, not English


def test_a_pick_list_too_long_for_one_sms_counts_its_goods_instead_of_listing_them(zh):
    lines = [
        {"title": f"{name}（精选）", "unit": "袋", "quantity": 100, "units": UNITS}
        for name in ("大米", "红薯干", "蜂蜜", "马蹄", "天堂姜")
    ]
    sms = messages.prepare_goods(PRODUCER, CAMPAIGN, lines)[2]
    assert len(signed_sms(sms)) <= SMS_SEGMENT
    assert "5种货品" in sms and "学府路" not in sms


def test_english_sms_fit_their_own_segment(zh):
    from flask_babel import force_locale

    with force_locale("en"):
        text = messages.listing_approved(LISTING)[2]
    assert text.startswith("Your listing “天堂姜” is approved") and "5000 斤" in text


def test_the_review_sms_a_producer_receives_names_the_goods_and_the_decision(app):
    operator = make_user(role="operator")
    producer = make_producer(name=PRODUCER)
    ginger = make_listing(producer, name="天堂姜", unit="斤", quantity=5000, status="pending")
    eggs = make_listing(producer, name="土鸡蛋", unit="个", quantity=800, status="pending")
    db.session.commit()
    approve_listing(operator, ginger)
    reject_listing(operator, eggs, "照片不清楚")
    sms = db.session.scalars(
        sa.select(Notification.body)
        .where(Notification.producer_id == producer.id, Notification.channel == "sms")
        .order_by(Notification.id)
    ).all()
    assert len(sms) == 2
    assert "天堂姜" in sms[0] and "已审核通过" in sms[0] and "5000斤" in sms[0]
    assert "土鸡蛋" in sms[1] and "未通过审核" in sms[1] and "照片不清楚" in sms[1]
    assert all(len(signed_sms(text)) <= SMS_SEGMENT for text in sms)
