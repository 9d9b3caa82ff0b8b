"""`flask seed-demo`: Lechang's towns, producers and goods from the 2020 report, work units and a demo account per role."""

from datetime import timedelta

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from accounts.models import Unit, User
from database import local_today, local_zone, utcnow
from extensions import db
from producers.models import Listing, Producer
from shop import editing

DEMO_PASSWORD = "pinbang2020"

UNITS = [
    ("乐昌市总工会", "乐昌市乐城街道人民中路 总工会一楼"),
    ("乐昌市妇联", "乐昌市乐城街道公园路 妇联办公室"),
    ("乐昌市农业农村局", "乐昌市乐城街道昌山中路 农业农村局门卫室"),
    ("东莞大朗帮扶工作队", "乐昌市北乡镇 大朗帮扶工作队驻地"),
    ("乐昌市商务局", "乐昌市乐城街道人民南路 商务局一楼大厅"),
]

# (name, kind, town, village, phone, poverty_id, linked_households)
PRODUCERS = [
    ("秀水镇雪毛鸡养殖合作社", "cooperative", "秀水镇", "秀水村", "13800000101", None, 23),
    ("北乡镇马蹄种植专业合作社", "cooperative", "北乡镇", "北乡村", "13800000102", None, 41),
    ("梅花镇天堂姜合作社", "cooperative", "梅花镇", "梅花村", "13800000103", None, 17),
    ("乐昌九峰山蜂业有限公司", "enterprise", "九峰镇", "九峰村", "13800000104", None, 12),
    ("黄圃镇大米加工厂", "enterprise", "黄圃镇", "黄圃村", "13800000105", None, 8),
    ("陈华养鸡户", "household", "秀水镇", "高山村", "13800000106", "GD-LC-2016-00318", 0),
    ("李桂英蛋鸡户", "household", "两江镇", "两江村", "13800000107", "GD-LC-2016-01127", 0),
    ("邓志强马蹄种植户", "household", "北乡镇", "新岩村", "13800000108", "GD-LC-2017-00562", 0),
    ("黄秀兰红薯干加工户", "household", "坪石镇", "坪石村", "13800000109", "GD-LC-2016-02231", 0),
    ("周光明鸡蛋户", "household", "廊田镇", "廊田村", "13800000110", None, 0),
]

# (producer index, name, category, variety, unit, unit weight in grams, price in fen, quantity, days until ready)
LISTINGS = [
    (0, "雪毛鸡", "禽类", "散养雪毛鸡", "只", 1500, 9800, 8000, 3),
    (5, "雪毛鸡", "禽类", "山地走地鸡", "只", 1400, 9800, 600, 3),
    (6, "鸡蛋", "蛋类", "土鸡蛋", "个", 50, 150, 12000, 1),
    (9, "鸡蛋", "蛋类", "农家鸡蛋", "个", 50, 150, 8000, 1),
    (1, "马蹄", "蔬果", "乐昌马蹄", "斤", 500, 450, 120000, 2),
    (7, "马蹄", "蔬果", "乐昌马蹄", "斤", 500, 450, 20000, 2),
    (2, "天堂姜", "蔬果", "天堂山生姜", "斤", 500, 800, 1500, 2),
    (4, "大米", "粮油", "丝苗米", "袋", 5000, 4500, 600, 1),
    (3, "蜂蜜", "农副", "百花蜜", "瓶", 500, 6800, 400, 1),
    (8, "红薯干", "农副", "农家红薯干", "袋", 500, 2000, 500, 1),
]


def seed_demo():
    """Load the demo data once; a second run finds it and adds nothing. Returns True if data was added."""
    if db.session.scalar(sa.select(Unit).where(Unit.name == UNITS[0][0])) is not None:
        return False
    units = [Unit(name=name, address=address) for name, address in UNITS]
    producers = [
        Producer(
            name=name,
            kind=kind,
            town=town,
            village=village,
            phone=phone,
            poverty_household=poverty_id is not None,
            poverty_id=poverty_id,
            linked_households=linked,
            status="approved",
        )
        for name, kind, town, village, phone, poverty_id, linked in PRODUCERS
    ]
    db.session.add_all(units + producers)
    db.session.flush()
    today = local_today()
    for index, name, category, variety, unit, grams, price, quantity, days in LISTINGS:
        db.session.add(
            Listing(
                producer_id=producers[index].id,
                name=name,
                category=category,
                variety=variety,
                unit=unit,
                unit_weight_g=grams,
                price_fen=price,
                quantity=quantity,
                ready_on=today + timedelta(days=days),
                status="approved",
            )
        )
    accounts = [
        ("运营员 李勇", "13900000001", "operator@pinbang.local", "operator", None, False, None),
        ("合作社 管理员", "13900000002", "producer@pinbang.local", "producer", None, False, producers[0].id),
        ("农户 陈华", "13900000003", None, "producer", None, False, producers[5].id),
        ("工会 联络员 王芳", "13900000004", "coordinator@pinbang.local", "buyer", units[0].id, True, None),
        ("工会 职工 张伟", "13900000005", "buyer@pinbang.local", "buyer", units[0].id, False, None),
        ("妇联 职工 刘敏", "13900000006", None, "buyer", units[1].id, False, None),
    ]
    for name, phone, email, role, unit_id, coordinator, producer_id in accounts:
        user = User(
            name=name, phone=phone, email=email, role=role, unit_id=unit_id, coordinator=coordinator, producer_id=producer_id
        )
        user.set_password(DEMO_PASSWORD)
        db.session.add(user)
    db.session.commit()
    seed_demo_campaigns()
    return True


# (title, description, opens in, closes in, unit indexes (none = all), items), each item:
# (title, price in fen, per-buyer limit, minimum total, policy, [(listing index, quantity)])
CAMPAIGNS = [
    (
        "乐昌消费扶贫·春季助农专场",
        "雪毛鸡、土鸡蛋、乐昌马蹄、天堂姜、百花蜜：来自秀水、两江、北乡、梅花等镇的合作社和建档立卡贫困户。预订截止后统一配送到各单位。",
        timedelta(hours=-1),
        timedelta(days=7),
        (),
        [
            ("雪毛鸡", 9800, 4, None, "poor_first", [(0, 3000), (1, 400)]),
            ("土鸡蛋", 150, 120, 300, "proportional", [(2, 6000), (3, 4000)]),
            ("乐昌马蹄", 450, None, None, "proportional", [(4, 30000), (5, 10000)]),
            ("天堂姜", 800, 20, None, "proportional", [(6, 800)]),
            ("百花蜜", 6800, 6, None, "proportional", [(8, 200)]),
        ],
    ),
    (
        "年货节预告：丝苗米和红薯干",
        "总工会、妇联专场，三天后开始预订。",
        timedelta(days=3),
        timedelta(days=10),
        (0, 1),
        [
            ("丝苗米 5kg", 4500, 10, None, "proportional", [(7, 300)]),
            ("农家红薯干", 2000, None, 50, "poor_first", [(9, 300)]),
        ],
    ),
]


def seed_demo_campaigns():
    """One campaign open now and one opening in three days, built through the shop services from the demo listings."""
    operator = db.session.scalar(sa.select(User).where(User.role == "operator"))
    listings = db.session.scalars(sa.select(Listing).order_by(Listing.id)).all()
    units = db.session.scalars(sa.select(Unit).order_by(Unit.id)).all()
    now = utcnow().replace(second=0, microsecond=0)
    for title, description, opens_in, closes_in, unit_indexes, items in CAMPAIGNS:
        closes_at = now + closes_in
        campaign = editing.create_campaign(
            operator,
            title=title,
            description=description,
            opens_at=now + opens_in,
            closes_at=closes_at,
            delivery_on=closes_at.astimezone(local_zone()).date() + timedelta(days=3),
            unit_ids=[units[i].id for i in unit_indexes],
        )
        for item_title, price, limit, minimum, policy, supplies in items:
            editing.add_item(
                operator,
                campaign.id,
                title=item_title,
                price_fen=price,
                per_buyer_limit=limit,
                min_total=minimum,
                policy=policy,
                supplies=[(listings[i].id, quantity) for i, quantity in supplies],
            )
        editing.publish_campaign(operator, campaign.id)


DEMO_LOGINS = [
    ("operator", "13900000001"),
    ("producer (cooperative)", "13900000002"),
    ("producer (household)", "13900000003"),
    ("coordinator", "13900000004"),
    ("buyer", "13900000005"),
]


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Load demo data drawn from the 2020 Lechang report (once)."""
    if seed_demo():
        click.echo("Demo data loaded.")
    else:
        click.echo("Demo data already present; nothing added.")
