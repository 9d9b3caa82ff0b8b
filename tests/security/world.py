"""A small world with two of everything, for the security tests.

Two units (甲 and 乙), two producers (P and Q, both registered poor households), a buyer, a colleague and a
coordinator in unit 甲, a coordinator and a buyer in unit 乙, a producer user for each producer and an operator.
An open campaign with orders from both units, and a campaign that has closed and been pooled (allocations,
pick lists, notifications). Every person's name and phone, each producer's phone and poverty registry number,
and each order's note are distinct marker strings, so a response can be searched for data it must not show.
"""

import io
import uuid
import zipfile
from datetime import timedelta
from types import SimpleNamespace

from PIL import Image
from werkzeug.datastructures import FileStorage

from factories import PASSWORD, make_campaign, make_item, make_listing, make_order, make_producer, make_unit

_HASH = {}

ROLES = ("anonymous", "buyer", "colleague", "coordinator", "producer", "operator", "other_producer", "other_unit")

PEOPLE = {
    # key: (name, phone, role, unit, coordinator, producer)
    "buyer": ("钱晓燕", "13900009002", "buyer", "a", False, None),
    "colleague": ("孙立伟", "13900009003", "buyer", "a", False, None),
    "coordinator": ("周淑芬", "13900009004", "buyer", "a", True, None),
    "other_unit": ("郑海涛", "13900009005", "buyer", "b", True, None),
    "buyer_b": ("吴国强", "13900009006", "buyer", "b", False, None),
    "producer": ("冯建国", "13900009007", "producer", None, False, "p"),
    "other_producer": ("陈秋菊", "13900009008", "producer", None, False, "q"),
    "operator": ("褚运营", "13900009001", "operator", None, False, None),
}
NOTES = {"buyer": "钱的私密备注", "colleague": "孙的私密备注", "buyer_b": "吴的私密备注"}
PRODUCER_SECRETS = {"p": ("13811110001", "GD-SECRET-P-0001"), "q": ("13822220002", "GD-SECRET-Q-0002")}


def jpeg_bytes(size=(64, 48)):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def _user(key, units, producers):
    from accounts.models import User
    from accounts.passwords import hash_password
    from extensions import db

    name, phone, role, unit, coordinator, producer = PEOPLE[key]
    if "hash" not in _HASH:
        _HASH["hash"] = hash_password(PASSWORD)
    user = User(
        name=name,
        phone=phone,
        role=role,
        unit_id=units[unit].id if unit else None,
        coordinator=coordinator,
        producer_id=producers[producer].id if producer else None,
        password_hash=_HASH["hash"],
    )
    db.session.add(user)
    db.session.commit()
    return user


def build_world():
    """Everything above; returns a namespace with the objects and ``ids`` for URL placeholders."""
    from claims.services import file_claim
    from dashboard.settlement import record_payout
    from delivery.receipts import record_receipt
    from extensions import db
    from fulfilment import closing
    from fulfilment.notices import RENDERERS
    from notifications.fanout import expand_fanouts
    from producers import listing_photos

    units = {
        "a": make_unit(name="甲单位", address="甲单位地址 人民路1号", contact_phone="0751-5550001"),
        "b": make_unit(name="乙单位", address="乙单位地址 公园路2号", contact_phone="0751-5550002"),
    }
    producers = {
        key: make_producer(name=name, kind=kind, town=town, poverty=True, phone=PRODUCER_SECRETS[key][0])
        for key, name, kind, town in (("p", "秀水甲农户", "household", "秀水镇"), ("q", "两江乙农户", "household", "两江镇"))
    }
    for key, producer in producers.items():
        producer.poverty_id = PRODUCER_SECRETS[key][1]
    db.session.commit()
    users = {key: _user(key, units, producers) for key in PEOPLE}
    chicken_p = make_listing(producers["p"], name="雪毛鸡", unit="只", price_fen=9800, quantity=1000, unit_weight_g=1500)
    honey_q = make_listing(producers["q"], name="蜂蜜", unit="瓶", price_fen=6800, quantity=500, unit_weight_g=500)
    photo = listing_photos.add_photo(
        users["operator"], chicken_p, FileStorage(io.BytesIO(jpeg_bytes()), filename="chicken.jpg", content_type="image/jpeg")
    )

    open_campaign = make_campaign(title="开放的活动", slug=f"open{uuid.uuid4().hex[:6]}")
    open_chicken = make_item(open_campaign, [(chicken_p, 200)], title="雪毛鸡")
    make_item(open_campaign, [(honey_q, 100)], title="蜂蜜")
    orders = {}
    for key, item_quantity in (("buyer", 2), ("colleague", 1), ("buyer_b", 3)):
        orders[key] = make_order(open_campaign, [(open_chicken, item_quantity)], user=users[key], note=NOTES[key])

    done = make_campaign(title="已结束的活动", slug=f"done{uuid.uuid4().hex[:6]}", closes_in=timedelta(minutes=-5))
    done_chicken = make_item(done, [(chicken_p, 100)], title="雪毛鸡")
    done_honey = make_item(done, [(honey_q, 100)], title="蜂蜜")
    done_order = make_order(done, [(done_chicken, 4), (done_honey, 3)], user=users["buyer"], note=NOTES["buyer"])
    make_order(done, [(done_chicken, 5), (done_honey, 2)], user=users["buyer_b"], note=NOTES["buyer_b"])
    closing.close_campaign(done.id)
    expand_fanouts(RENDERERS)  # as the close task does right after the close
    db.session.expire_all()
    # Q's honey arrived at unit 甲 (P's chickens are left for the receipts row to record); the buyer claims on it,
    # with a photo, and Q was paid part of what is due.
    record_receipt(users["operator"], done.id, units["a"].id, producers["q"].id, [{"item_id": done_honey.id, "quantity": 3}])
    claim = file_claim(
        users["buyer"],
        done_order.id,
        item_id=done_honey.id,
        quantity=1,
        reason="damaged",
        photos=[FileStorage(io.BytesIO(jpeg_bytes()), filename="claim.jpg", content_type="image/jpeg")],
    )
    payout = record_payout(users["operator"], done.id, producers["q"].id, 100, "transfer", reference="TX-1")
    db.session.expire_all()

    from notifications.models import Notification

    notification = db.session.scalars(db.select(Notification).where(Notification.producer_id == producers["p"].id)).first()
    ids = {
        "open": open_campaign.id,
        "open_slug": open_campaign.slug,
        "done": done.id,
        "done_slug": done.slug,
        "done_item": done_chicken.id,
        "done_honey": done_honey.id,
        "order": orders["buyer"].id,
        "item": open_chicken.id,
        "item_q": open_campaign.items[1].id,
        "listing": chicken_p.id,
        "photo": photo.id,
        "photo_token": photo.token,
        "producer": producers["p"].id,
        "unit": units["a"].id,
        "user": users["buyer"].id,
        "notification": notification.id,
        "done_order": done_order.id,
        "claim": claim.id,
        "claim_photo_token": claim.photos[0].token,
        "payout": payout.id,
    }
    return SimpleNamespace(units=units, producers=producers, users=users, orders=orders, ids=ids, open=open_campaign, done=done)


def secrets_hidden_from(role):
    """The marker strings that must never appear in a response to ``role``."""
    person = {key: (name, phone) for key, (name, phone, *_rest) in PEOPLE.items()}
    everyone = set(PEOPLE)
    may_see = {
        "anonymous": set(),
        "buyer": {"buyer"},
        "colleague": {"colleague"},
        "coordinator": {"coordinator", "buyer", "colleague"},
        "other_unit": {"other_unit", "buyer_b"},
        # A unit's coordinator is its contact on delivery day: named, with a phone, on the pick lists of the producers
        # delivering to the unit (issue 18.2). Never the buyers themselves.
        "producer": {"producer", "coordinator", "other_unit"},
        "other_producer": {"other_producer", "coordinator", "other_unit"},
        "operator": everyone,
    }[role]
    hidden = [marker for key in everyone - may_see for marker in person[key]]
    hidden += [note for key, note in NOTES.items() if key not in may_see]
    own_producer = {"producer": "p", "other_producer": "q"}.get(role)
    if role != "operator":
        hidden += [marker for key, markers in PRODUCER_SECRETS.items() if key != own_producer for marker in markers]
    return hidden


def response_text(response):
    """A response's text for searching: xlsx files are unzipped (their strings live in XML parts)."""
    data = response.get_data()
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                return " ".join(
                    archive.read(name).decode("utf-8", "replace") for name in archive.namelist() if name.endswith(".xml")
                )
        except zipfile.BadZipFile:
            pass
    return data.decode("utf-8", "replace")


def session_client(app, user):
    """A test client logged in by session, as the login form would leave it (without paying for a password hash)."""
    client = app.test_client()
    if user is not None:
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
    return client


def bearer_headers(user):
    from accounts.services import issue_token
    from extensions import db

    if user is None:
        return {}
    token = issue_token(user)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}
