"""What the close produced, read back: the operators' overview and confirmations, each producer's pick list (page,
print and xlsx) and its confirmation, and the reminder the day before delivery."""

from collections import defaultdict
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

import after_commit
from accounts.models import Unit, User
from accounts.services import record_audit
from database import local_today, local_zone, transaction, utcnow
from delivery.ledger import received_at_units
from errors import Conflict, Forbidden, NotFound
from extensions import db
from fulfilment.models import Allocation, PickLine
from fulfilment.notices import campaign_items, campaign_subject, message_lines
from notifications.messages import delivery_reminder
from notifications.rendering import delivery_date
from notifications.services import queue_notification
from producers.access import cadre_of
from producers.models import PicklistAck, Producer
from shop.lifecycle import POOLED, visible_to_buyers
from shop.models import Campaign, CampaignItem
from spreadsheets import TEXT, Sheet, write_workbook


def get_campaign(campaign_id) -> Campaign:
    """:raises NotFound: no such campaign."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def allocation_overview(campaign_id) -> dict:
    """Who supplies how much of each item, and to which units: the operators' view and the API's allocations.

    :raises NotFound: no such campaign.
    """
    campaign = get_campaign(campaign_id)
    items = {
        item.id: {
            "item_id": item.id,
            "title": item.title,
            "unit": item.unit,
            "ordered": item.ordered,
            "capacity": item.capacity,
            "min_total": item.min_total,
            "cancelled_below_minimum": item.cancelled_below_minimum,
            "producers": [],
        }
        for item in campaign.items
    }
    by_allocation = {}
    rows = db.session.execute(
        sa.select(Allocation.id, Allocation.item_id, Allocation.producer_id, Allocation.quantity, Producer.name, Producer.town)
        .join(Producer, Producer.id == Allocation.producer_id)
        .where(Allocation.campaign_id == campaign_id)
        .order_by(Allocation.item_id, Allocation.producer_id)
    )
    for allocation_id, item_id, producer_id, quantity, name, town in rows:
        entry = {"producer_id": producer_id, "producer_name": name, "town": town, "quantity": quantity, "units": []}
        items[item_id]["producers"].append(entry)
        by_allocation[allocation_id] = entry
    for allocation_id, unit_id, quantity, unit_name in db.session.execute(
        sa.select(PickLine.allocation_id, PickLine.unit_id, PickLine.quantity, Unit.name)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(Unit, Unit.id == PickLine.unit_id)
        .where(Allocation.campaign_id == campaign_id)
        .order_by(PickLine.allocation_id, PickLine.unit_id)
    ):
        by_allocation[allocation_id]["units"].append({"unit_id": unit_id, "unit_name": unit_name, "quantity": quantity})
    return {
        "campaign_id": campaign.id,
        "title": campaign.title,
        "status": campaign.status,
        "delivery_on": campaign.delivery_on,
        "allocated_at": campaign.allocated_at,
        "items": list(items.values()),
    }


def confirmations(campaign_id) -> list[dict]:
    """Every producer with goods to prepare in the campaign, whether and when it confirmed ready."""
    rows = db.session.execute(
        sa.select(Producer.id, Producer.name, Producer.town, Producer.phone, sa.func.sum(Allocation.quantity))
        .join(Allocation, Allocation.producer_id == Producer.id)
        .where(Allocation.campaign_id == campaign_id)
        .group_by(Producer.id, Producer.name, Producer.town, Producer.phone)
        .order_by(Producer.name, Producer.id)
    ).all()
    acks = {
        ack.producer_id: ack for ack in db.session.scalars(sa.select(PicklistAck).where(PicklistAck.campaign_id == campaign_id))
    }
    names = dict(
        db.session.execute(
            sa.select(User.id, User.name).where(User.id.in_(sorted({a.acked_by_id for a in acks.values() if a.acked_by_id})))
        ).all()
    )
    return [
        {
            "producer_id": producer_id,
            "producer_name": name,
            "town": town,
            "phone": phone,
            "quantity": int(quantity),
            "acked_at": acks[producer_id].acked_at if producer_id in acks else None,
            "channel": acks[producer_id].channel if producer_id in acks else None,
            "acked_by_name": names.get(acks[producer_id].acked_by_id) if producer_id in acks else None,
        }
        for producer_id, name, town, phone, quantity in rows
    ]


def _check_producer_access(viewer, producer_id):
    if viewer.role == "operator":
        return
    if viewer.role == "cadre":
        producer = db.session.get(Producer, producer_id)
        if producer is None or not cadre_of(viewer, producer):
            raise NotFound(_("Not found."))
        return
    if viewer.role != "producer":
        raise Forbidden(_("Your role may not do this."))
    if viewer.producer_id != producer_id:
        raise NotFound(_("Not found."))


def picklist(viewer, producer_id, campaign_id) -> dict:
    """What one producer prepares for one campaign: per item the quantity, per delivery unit its address and share.

    :raises Forbidden: a buyer.
    :raises NotFound: another producer's pick list, or no such producer or campaign.
    """
    _check_producer_access(viewer, producer_id)
    producer = db.session.get(Producer, producer_id)
    if producer is None:
        raise NotFound(_("Not found."))
    campaign = get_campaign(campaign_id)
    if viewer.role != "operator" and not visible_to_buyers(campaign.status):
        raise NotFound(_("Not found."))
    ack = _ack(campaign_id, producer_id)
    return {
        "campaign_id": campaign.id,
        "campaign_title": campaign.title,
        "status": campaign.status,
        "delivery_on": campaign.delivery_on,
        "producer_id": producer.id,
        "producer_name": producer.name,
        "producer_phone": producer.phone,
        "acked_at": ack.acked_at if ack else None,
        "channel": ack.channel if ack else None,
        "lines": _picklist_lines(campaign_id, producer_id),
    }


def _picklist_lines(campaign_id, producer_id) -> list[dict]:
    """Per item, in the campaign's order: the quantity, and per delivery unit (in id order) its address, share and
    what it received so far (None before its receipt)."""
    lines = {}
    received = received_at_units(campaign_id, producer_id)
    rows = db.session.execute(
        sa.select(
            Allocation.item_id,
            CampaignItem.title,
            CampaignItem.unit,
            CampaignItem.unit_weight_g,
            Allocation.quantity,
            PickLine.unit_id,
            Unit.name,
            Unit.address,
            Unit.contact_phone,
            PickLine.quantity,
        )
        .join(CampaignItem, CampaignItem.id == Allocation.item_id)
        .outerjoin(PickLine, PickLine.allocation_id == Allocation.id)
        .outerjoin(Unit, Unit.id == PickLine.unit_id)
        .where(Allocation.campaign_id == campaign_id, Allocation.producer_id == producer_id)
        .order_by(CampaignItem.position, CampaignItem.id, PickLine.unit_id)
    )
    for item_id, title, unit, weight_g, quantity, unit_id, unit_name, address, contact, unit_quantity in rows:
        line = lines.setdefault(
            item_id,
            {"item_id": item_id, "title": title, "unit": unit, "unit_weight_g": weight_g, "quantity": quantity, "units": []},
        )
        if unit_id is not None:
            line["units"].append(
                {
                    "unit_id": unit_id,
                    "unit_name": unit_name,
                    "address": address,
                    "contact_phone": contact,
                    "contacts": [],
                    "quantity": unit_quantity,
                    "received": received.get((unit_id, item_id), (None, None))[0],
                    "received_weight_g": received.get((unit_id, item_id), (None, None))[1],
                }
            )
    _add_unit_contacts(lines.values())
    return list(lines.values())


def _add_unit_contacts(lines):
    """Whom to call on arrival: each delivery unit's coordinators (name and phone), one query for all units."""
    units = [unit for line in lines for unit in line["units"]]
    if not units:
        return
    contacts = defaultdict(list)
    for unit_id, name, phone in db.session.execute(
        sa.select(User.unit_id, User.name, User.phone)
        .where(User.unit_id.in_({unit["unit_id"] for unit in units}), User.coordinator.is_(True), User.active.is_(True))
        .order_by(User.unit_id, User.id)
    ):
        contacts[unit_id].append({"name": name, "phone": phone})
    for unit in units:
        unit["contacts"] = contacts[unit["unit_id"]]


def _ack(campaign_id, producer_id) -> PicklistAck | None:
    return db.session.scalar(
        sa.select(PicklistAck).where(PicklistAck.campaign_id == campaign_id, PicklistAck.producer_id == producer_id)
    )


def producer_campaigns(producer_id) -> list[dict]:
    """The campaigns a producer has goods to prepare for, newest delivery first, with what it confirmed."""
    rows = db.session.execute(
        sa.select(Campaign, sa.func.sum(Allocation.quantity))
        .join(Allocation, Allocation.campaign_id == Campaign.id)
        .where(Allocation.producer_id == producer_id)
        .group_by(Campaign.id)
        .order_by(Campaign.delivery_on.desc(), Campaign.id.desc())
    ).all()
    acked = set(db.session.scalars(sa.select(PicklistAck.campaign_id).where(PicklistAck.producer_id == producer_id)))
    return [{"campaign": campaign, "quantity": int(total), "acked": campaign.id in acked} for campaign, total in rows]


def ack_picklist(user, producer_id, campaign_id, by_phone=False) -> PicklistAck:
    """The producer confirms its pick list will be ready; confirming twice keeps the first confirmation.

    ``by_phone``: an operator, or the village cadre of the producer's town, confirms for a household without a
    smartphone after calling it; recorded with who confirmed, on whose behalf, and the channel "phone".

    :raises Forbidden: not the producer's own account (or, by phone, neither an operator nor the town's cadre).
    :raises NotFound: another producer's pick list, or nothing to prepare in that campaign.
    :raises Conflict: the campaign has not been pooled yet.
    """
    if by_phone:
        if user.role not in ("operator", "cadre"):
            raise Forbidden(_("Only an operator or the town's village cadre can confirm by phone for a producer."))
    elif user.role != "producer":
        raise Forbidden(_("Only the producer itself can confirm its pick list."))
    _check_producer_access(user, producer_id)
    producer = db.session.get(Producer, producer_id)
    if producer is None:
        raise NotFound(_("Not found."))
    campaign = get_campaign(campaign_id)
    if campaign.status not in POOLED:
        raise Conflict(_("The pick list is not ready yet: the campaign has not been pooled."))
    has_goods = db.session.scalar(
        sa.select(sa.func.count()).where(Allocation.campaign_id == campaign_id, Allocation.producer_id == producer_id)
    )
    if not has_goods:
        raise NotFound(_("There is nothing to prepare for this campaign."))
    existing = _ack(campaign_id, producer_id)
    if existing is not None:
        return existing
    channel = "phone" if by_phone else "app"
    ack = PicklistAck(campaign_id=campaign_id, producer_id=producer_id, acked_by_id=user.id, channel=channel)
    try:
        with transaction():
            db.session.add(ack)
            db.session.flush()
            record_audit(
                user,
                "picklist.ack",
                ack,
                on_behalf_of=producer.name if by_phone else None,
                campaign_id=campaign_id,
                producer_id=producer_id,
                channel=channel,
            )
    except IntegrityError:
        # Two taps at once: the other one is the confirmation.
        return _ack(campaign_id, producer_id)
    return ack


def overdue_confirmations(now=None, hours=None) -> list[dict]:
    """Producers that have not confirmed their pick list ``hours`` (PICKLIST_ACK_HOURS) after it was sent, in
    campaigns not yet delivered: the longest waiting first.

    :returns: dicts with campaign, producer_id, producer_name, town, phone, quantity and sent_at.
    """
    now = now or utcnow()
    hours = current_app.config["PICKLIST_ACK_HOURS"] if hours is None else hours
    acked = sa.exists().where(PicklistAck.campaign_id == Allocation.campaign_id, PicklistAck.producer_id == Producer.id)
    rows = db.session.execute(
        sa.select(Campaign, Producer.id, Producer.name, Producer.town, Producer.phone, sa.func.sum(Allocation.quantity))
        .join(Allocation, Allocation.campaign_id == Campaign.id)
        .join(Producer, Producer.id == Allocation.producer_id)
        .where(Campaign.status == "allocated", Campaign.allocated_at <= now - timedelta(hours=hours), ~acked)
        .group_by(Campaign.id, Producer.id, Producer.name, Producer.town, Producer.phone)
        .having(sa.func.sum(Allocation.quantity) > 0)
        .order_by(Campaign.allocated_at, Campaign.id, Producer.name, Producer.id)
    ).all()
    return [
        {
            "campaign": c,
            "producer_id": pid,
            "producer_name": name,
            "town": town,
            "phone": phone,
            "quantity": int(q),
            "sent_at": c.allocated_at,
        }
        for c, pid, name, town, phone, q in rows
    ]


def send_delivery_reminders(now=None) -> int:
    """Queue a reminder to every producer delivering tomorrow (local time); each is queued once per campaign.

    A campaign pooled today is skipped: its producers just got their pick list.
    :returns: how many producers were newly reminded.
    """
    now = now or utcnow()
    today = local_today(now)
    start_of_today = datetime.combine(today, time.min, tzinfo=local_zone())
    campaigns = db.session.scalars(
        sa.select(Campaign).where(
            Campaign.status == "allocated",
            Campaign.delivery_on == today + timedelta(days=1),
            Campaign.allocated_at < start_of_today,
        )
    ).all()
    reminded = 0
    for campaign in campaigns:
        with transaction():
            told = _remind(campaign)
            if told:
                after_commit.dispatch_notifications()
        reminded += told
    return reminded


def _remind(campaign) -> int:
    items = campaign_items(campaign.id)
    per_producer = defaultdict(dict)
    for producer_id, item_id, quantity in db.session.execute(
        sa.select(Allocation.producer_id, Allocation.item_id, Allocation.quantity).where(Allocation.campaign_id == campaign.id)
    ):
        per_producer[producer_id][item_id] = {"quantity": quantity, "units": {}}
    reminded = 0
    for producer in db.session.scalars(sa.select(Producer).where(Producer.id.in_(list(per_producer))).order_by(Producer.id)):
        title, body, sms = delivery_reminder(producer.name, campaign, message_lines(items, per_producer[producer.id], {}))
        subject = campaign_subject(campaign.id)
        if queue_notification(kind="delivery_reminder", subject=subject, title=title, body=body, sms_body=sms, producer=producer):
            reminded += 1
    return reminded


def picklist_xlsx(data) -> bytes:
    """The pick list as an xlsx: a heading, then one bold row per item with its total and a row per delivery unit
    with its address, contact and quantity."""
    rows, item_rows = [], set()
    for line in data["lines"]:
        item_rows.add(len(rows))
        rows.append([line["title"], line["unit"], line["quantity"]])
        for unit in line["units"]:
            rows.append(
                [line["title"], line["unit"], None, unit["unit_name"], unit["address"], unit["contact_phone"], unit["quantity"]]
            )
    sheet = Sheet(
        title=_("Pick list"),
        labelled=[
            (_("Pick list"), data["campaign_title"]),
            (_("Producer"), data["producer_name"]),
            (_("Deliver by"), delivery_date(data["delivery_on"])),
        ],
        header=[
            _("Item"),
            _("Unit of sale"),
            _("Total to prepare"),
            _("Delivery unit"),
            _("Address"),
            _("Contact phone"),
            _("Quantity"),
        ],
        rows=rows,
        bold_rows=item_rows,
        number_formats={5: TEXT},
    )
    return write_workbook([sheet])
