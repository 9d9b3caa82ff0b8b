"""A unit with a coordinator, an open campaign with three items, and sign-up sheets built as real xlsx and csv files."""

import csv
import io
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from extensions import db
from factories import make_campaign, make_item, make_listing, make_unit, make_user
from orders.models import GroupSheet, Order, OrderLine
from shop.models import CampaignItem


class SheetFiles:
    """Builds the files a coordinator would upload: rows of values under a header row."""

    @staticmethod
    def xlsx(rows, title="报名表", extra_sheets=(), formulas=()) -> bytes:
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = title
        for row in rows:
            sheet.append(list(row))
        for cell, formula in formulas:
            sheet[cell] = formula  # openpyxl stores "=..." as a real formula
        for name, extra_rows in extra_sheets:
            other = workbook.create_sheet(name)
            for row in extra_rows:
                other.append(list(row))
        out = io.BytesIO()
        workbook.save(out)
        return out.getvalue()

    @staticmethod
    def csv(rows, encoding="utf-8", delimiter=",") -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, delimiter=delimiter)
        for row in rows:
            writer.writerow(["" if value is None else value for value in row])
        text = out.getvalue()
        if encoding == "utf-8-sig":
            return ("\ufeff" + text).encode("utf-8")
        return text.encode(encoding)


@pytest.fixture
def files():
    return SheetFiles()


@pytest.fixture
def shop(app):
    """An open campaign for everyone: 雪毛鸡 (98 元, 20 left, 2 a person), 土鸡蛋 (1.5 元, 300), 蜂蜜 (68 元, 10)."""
    unit = make_unit(name="乐昌市总工会", address="乐城街道人民中路1号 总工会一楼")
    other_unit = make_unit(name="乐昌市妇联", address="乐城街道公园路8号")
    coordinator = make_user(unit=unit, coordinator=True, name="李主任", phone="13900000004")
    buyer = make_user(unit=unit, name="王芳", phone="13900000005")
    other_coordinator = make_user(unit=other_unit, coordinator=True, name="陈静", phone="13900000006")
    operator = make_user(role="operator", name="运营", phone="13900000001")
    campaign = make_campaign(title="春季消费扶贫")
    chicken = make_item(
        campaign,
        [(make_listing(name="雪毛鸡", unit="只", price_fen=9800, quantity=100, unit_weight_g=1500), 20)],
        per_buyer_limit=2,
        position=1,
    )
    eggs = make_item(campaign, [(make_listing(name="土鸡蛋", unit="个", price_fen=150, quantity=500), 300)], position=2)
    honey = make_item(
        campaign, [(make_listing(name="蜂蜜", unit="瓶", price_fen=6800, quantity=50, unit_weight_g=500), 10)], position=3
    )
    return SimpleNamespace(
        unit=unit,
        other_unit=other_unit,
        coordinator=coordinator,
        buyer=buyer,
        other_coordinator=other_coordinator,
        operator=operator,
        campaign=campaign,
        chicken=chicken,
        eggs=eggs,
        honey=honey,
        header=["姓名", "手机号", "雪毛鸡", "土鸡蛋", "蜂蜜", "备注"],
    )


def state():
    """Everything an import could change: (orders, order lines, live orders, ordered per item, sheets)."""
    db.session.expire_all()
    count = lambda model, *where: db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))  # noqa: E731
    ordered = tuple(db.session.scalars(sa.select(CampaignItem.ordered).order_by(CampaignItem.id)).all())
    return (
        count(Order),
        count(OrderLine),
        count(Order, Order.status != "cancelled"),
        ordered,
        count(GroupSheet),
    )


@pytest.fixture
def snapshot():
    return state


def live_orders(campaign_id):
    """{phone: {item title: quantity}} of live orders, for comparing what a sheet left behind."""
    db.session.expire_all()
    result = {}
    for order in db.session.scalars(sa.select(Order).where(Order.campaign_id == campaign_id, Order.status != "cancelled")):
        lines = result.setdefault(order.buyer_phone, {})
        for line in order.lines:
            if not line.cancelled:
                lines[line.item.title] = lines.get(line.item.title, 0) + line.quantity
    return result


@pytest.fixture
def live():
    return live_orders
