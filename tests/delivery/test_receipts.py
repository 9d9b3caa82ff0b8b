"""Receipts through the service: shortfalls shared fairly, corrections as new entries, weights, refusals."""

import pytest
import sqlalchemy as sa

from dashboard import delivery, settlement
from dashboard.models import Delivery
from delivery import ledger, receipts
from delivery.models import LineEntry, Receipt
from errors import Conflict, Forbidden, NotFound, ValidationFailed, WeightUnconfirmed
from extensions import db
from notifications.models import Notification
from orders.models import Order
from shop.models import Campaign


def figures(order, item):
    line = next(line for line in order.lines if line.item_id == item.id)
    return ledger.line_figures([line.id])[line.id]


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def told(kind="delivery_changed"):
    rows = db.session.scalars(sa.select(Notification).where(Notification.kind == kind)).all()
    return sorted((row.recipient, row.channel) for row in rows)


def eggs(day, quantity, **kw):
    return receipts.record_receipt(
        day.coordinator, day.campaign.id, day.u1.id, day.p1.id, [{"item_id": day.egg.id, "quantity": quantity}], **kw
    )


def test_before_any_receipt_nothing_is_delivered_and_the_pledge_stands(day):
    assert figures(day.order_a, day.egg) == ledger.LineFigures(None, None, 900)


def test_a_shortfall_is_shared_by_what_each_ordered_and_charged_accordingly(day):
    # 12 eggs were to come for orders of 6, 4 and 2; 9 came: 4.5, 3 and 1.5. The two halves tie for the one egg
    # left, and it goes to the earlier order, A's.
    eggs(day, 9)
    assert figures(day.order_a, day.egg) == ledger.LineFigures(5, None, 750)
    assert figures(day.order_b, day.egg) == ledger.LineFigures(3, None, 450)
    assert figures(day.order_c, day.egg) == ledger.LineFigures(1, None, 150)
    # One message per person: A and B in the app (and SMS), the colleague without an account by SMS; the
    # coordinator recorded it and is not told what they just typed.
    recipients = {recipient for recipient, _channel in told()}
    assert recipients == {f"user:{day.a.id}", f"user:{day.b.id}", "phone:13600000009"}
    # P1's delivery to 工会 is complete (eggs only); the unit still waits for the chickens.
    assert count(Delivery) == 1
    assert db.session.get(Order, day.order_a.id).status == "allocated"


def test_a_full_receipt_tells_no_one_and_charges_the_pledge(day):
    eggs(day, 12)
    assert figures(day.order_a, day.egg) == ledger.LineFigures(6, None, 900)
    assert told() == []


def test_a_correction_needs_a_reason_and_adds_entries_beside_the_old_ones(day):
    eggs(day, 9)
    entries = count(LineEntry)
    with pytest.raises(ValidationFailed) as refused:
        eggs(day, 11)
    assert "reason" in refused.value.fields
    assert count(LineEntry) == entries and count(Receipt) == 1
    correction = eggs(day, 11, reason="两个放在另一箱里")
    assert correction.kind == "correction"
    assert correction.lines[0].quantity_change == 2
    # 11 for 6, 4, 2: 5.5, 3.67, 1.83 → 5, 3, 1 and two left: .83 then .67 → C 2, B 4.
    assert [figures(o, day.egg).delivered for o in (day.order_a, day.order_b, day.order_c)] == [5, 4, 2]
    line_a = next(line for line in day.order_a.lines if line.item_id == day.egg.id)
    history = [(e.kind, e.quantity, e.charge_fen) for e in ledger.line_entries([line_a.id])]
    assert history == [("receipt", 5, 750)]  # A's share did not change: no entry
    line_b = next(line for line in day.order_b.lines if line.item_id == day.egg.id)
    history = [(e.kind, e.quantity, e.charge_fen, e.reason) for e in ledger.line_entries([line_b.id])]
    assert history == [("receipt", 3, 450, None), ("correction", 1, 150, "两个放在另一箱里")]


def test_the_same_figures_again_change_nothing(day):
    eggs(day, 9)
    with pytest.raises(Conflict):
        eggs(day, 9, reason="again")
    assert count(Receipt) == 1


def test_bad_receipts_change_nothing(day):
    cases = [
        [{"item_id": day.egg.id, "quantity": 13}],  # above the pick line
        [{"item_id": day.egg.id, "quantity": -1}],
        [{"item_id": day.chicken.id, "quantity": 1}],  # P1 brings no chickens
        [{"item_id": day.egg.id, "quantity": 2, "weight_kg": "0.1"}],  # eggs are sold by the piece
        [],
    ]
    for lines in cases:
        with pytest.raises(ValidationFailed):
            receipts.record_receipt(day.operator, day.campaign.id, day.u1.id, day.p1.id, lines)
    assert (count(Receipt), count(LineEntry), count(Notification)) == (0, 0, 0)


def test_who_may_record(day):
    lines = [{"item_id": day.egg.id, "quantity": 9}]
    with pytest.raises(NotFound):
        receipts.record_receipt(day.other_coordinator, day.campaign.id, day.u1.id, day.p1.id, lines)
    with pytest.raises(Forbidden):
        receipts.record_receipt(day.a, day.campaign.id, day.u1.id, day.p1.id, lines)
    with pytest.raises(NotFound):
        receipts.record_receipt(day.operator, day.campaign.id, day.u2.id, day.p1.id, lines)  # P1 brings nothing there
    assert count(Receipt) == 0
    receipts.record_receipt(day.operator, day.campaign.id, day.u1.id, day.p1.id, lines)
    # Recorded at the hub: the unit's coordinator hears it too, in one summary.
    assert f"user:{day.coordinator.id}" in {recipient for recipient, _channel in told()}


def chickens(day, quantity, weight=None, actor=None, **kw):
    line = {"item_id": day.chicken.id, "quantity": quantity, "weight_kg": weight}
    return receipts.record_receipt(actor or day.operator, day.campaign.id, day.u1.id, day.p3.id, [line], **kw)


def test_a_weighed_delivery_is_shared_by_pieces_and_charged_by_the_kilogram(day):
    chickens(day, 3, "4.801")
    # 4801 g over 2 + 1 pieces: 3200.67 and 1600.33 → 3201 and 1600; ¥30/kg.
    assert figures(day.order_a, day.chicken) == ledger.LineFigures(2, 3201, 9603)
    assert figures(day.order_b, day.chicken) == ledger.LineFigures(1, 1600, 4800)
    statement = settlement.producer_statement(day.campaign.id, day.p3.id)
    assert statement["due_fen"] == 14403  # 4.801 kg at ¥30


def test_weights_of_zero_or_far_from_expected(day):
    for weight in ("0", "-1.5", "abc"):
        with pytest.raises(ValidationFailed):
            chickens(day, 3, weight)
    with pytest.raises(WeightUnconfirmed) as far:
        chickens(day, 3, "48")  # 48 kg for three 1.5 kg chickens
    assert far.value.status == 409 and far.value.details["item_ids"] == [day.chicken.id]
    assert count(Receipt) == 0
    chickens(day, 3, "48", confirm_weight=True)
    assert figures(day.order_a, day.chicken).weight_g == 32000


def test_a_delivery_is_complete_only_once_weighed(day):
    eggs(day, 12)
    chickens(day, 3)  # counted, not weighed yet: charged the pledge meanwhile
    assert figures(day.order_b, day.chicken) == ledger.LineFigures(1, None, 4500)
    with pytest.raises(Conflict):
        delivery.mark_delivered(day.operator, day.campaign.id, day.u1.id, day.p3.id)
    assert db.session.get(Order, day.order_a.id).status == "allocated"
    chickens(day, 3, "4.5")  # adding the weight is not a correction: no reason needed
    assert db.session.get(Order, day.order_a.id).status == "delivered"
    assert {row.kind for row in db.session.scalars(sa.select(Receipt))} == {"receipt"}


def test_bags_weighed_per_person(day):
    line_a = next(line for line in day.order_a.lines if line.item_id == day.chicken.id)
    line_b = next(line for line in day.order_b.lines if line.item_id == day.chicken.id)
    bags = [{"order_line_id": line_a.id, "weight_kg": "3.3"}, {"order_line_id": line_b.id, "weight_kg": "1.4"}]
    line = {"item_id": day.chicken.id, "quantity": 3, "bags": bags}
    receipt = receipts.record_receipt(day.coordinator, day.campaign.id, day.u1.id, day.p3.id, [line])
    assert receipt.lines[0].weight_g == 4700
    assert figures(day.order_a, day.chicken) == ledger.LineFigures(2, 3300, 9900)
    assert figures(day.order_b, day.chicken) == ledger.LineFigures(1, 1400, 4200)
    other = next(line for line in day.order_d.lines)
    with pytest.raises(ValidationFailed):
        receipts.record_receipt(
            day.coordinator,
            day.campaign.id,
            day.u1.id,
            day.p3.id,
            [{"item_id": day.chicken.id, "quantity": 3, "bags": [{"order_line_id": other.id, "weight_kg": "1"}]}],
            reason="x",
        )


def test_all_arrived_is_a_receipt_of_the_full_pick_lines(day):
    chickens(day, 3, "4.5")  # weighed: P3's delivery is complete already
    added = delivery.mark_delivered(day.operator, day.campaign.id, day.u1.id)
    assert [d.producer_id for d in added] == [day.p1.id]
    assert figures(day.order_a, day.egg) == ledger.LineFigures(6, None, 900)
    assert db.session.get(Order, day.order_a.id).status == "delivered"
    assert delivery.mark_delivered(day.operator, day.campaign.id, day.u1.id) == []
    delivery.mark_delivered(day.operator, day.campaign.id, day.u2.id)
    assert db.session.get(Campaign, day.campaign.id).status == "delivered"


def test_producer_figures_and_the_income_replay(day):
    eggs(day, 9)
    eggs(day, 12, reason="找到了另外三个")
    assert ledger.producer_delivered(day.p1.id) == {day.campaign.id: 1800}
    replay = ledger.income_replay(day.p1.id)
    assert [(r["kind"], r["quantity"], r["value_change_fen"], r["total_fen"]) for r in replay] == [
        ("receipt", 9, 1350, 1350),
        ("correction", 12, 450, 1800),
    ]
    statement = settlement.producer_statement(day.campaign.id, day.p1.id)
    assert (statement["items"][0]["delivered"], statement["due_fen"]) == (12, 1800)
