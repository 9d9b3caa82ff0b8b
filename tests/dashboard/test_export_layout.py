"""Exports a spreadsheet can work with: weights are numbers, names are not cut, every download has its own name."""

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_unit, make_user

LONG_UNIT = "乐昌市人力资源和社会保障局机关工会委员会"


@pytest.fixture
def pooled(app):
    unit = make_unit(name=LONG_UNIT, address="乐城街道人民中路1号")
    listing = make_listing(name="天堂姜", unit="斤", price_fen=800, unit_weight_g=500)
    campaign = make_campaign(status="allocated")
    item = make_item(campaign, [(listing, 300)])
    for n in range(3):
        make_order(campaign, [(item, 7)], user=make_user(unit=unit, name=f"职工{n}"))
    make_allocation(item, listing.producer, 21, units=[(unit, 21)])
    db.session.commit()
    return campaign, unit


def _operator(auth):
    auth.login(make_user(role="operator").phone)


def _sheet(response):
    assert response.status_code == 200
    return load_workbook(io.BytesIO(response.data)).active


def test_the_jin_column_holds_numbers_that_add_up(pooled, client, auth):
    campaign, _unit = pooled
    _operator(auth)
    sheet = _sheet(client.get(f"/dashboard/export/summary.xlsx?campaign_id={campaign.id}&group_by=unit"))
    header = [cell.value for cell in sheet[1]]
    kg, jin = header.index("重量（公斤）") + 1, header.index("重量（斤）") + 1
    cells = [sheet.cell(row=row, column=jin) for row in range(2, sheet.max_row + 1)]
    assert all(cell.data_type == "n" for cell in cells)
    # 21 斤 of ginger at 0.5 kg: 10.5 kg, 21 jin — in the row and in the total.
    assert [Decimal(str(cell.value)) for cell in cells] == [Decimal(21), Decimal(21)]
    assert Decimal(str(sheet.cell(row=2, column=kg).value)) == Decimal("10.5")


def test_a_long_name_is_not_cut_by_the_column_width(pooled, client, auth):
    campaign, unit = pooled
    _operator(auth)
    sheet = _sheet(client.get(f"/dashboard/export/summary.xlsx?campaign_id={campaign.id}&group_by=unit"))
    assert sheet.cell(row=2, column=1).value == LONG_UNIT
    # Each Chinese character takes two narrow characters' width.
    assert sheet.column_dimensions["A"].width >= 2 * len(LONG_UNIT)
    people = _sheet(client.get(f"/dashboard/export/delivery-people.xlsx?campaign_id={campaign.id}&unit_id={unit.id}"))
    assert people.column_dimensions["C"].width > 10  # the goods column: "天堂姜 × 7斤"


def test_the_summaries_download_under_names_of_their_own(pooled, client, auth):
    campaign, _unit = pooled
    _operator(auth)
    names = set()
    for query in ("summary.xlsx?group_by=product", "summary.xlsx?group_by=producer", "summary.csv?group_by=producer"):
        response = client.get(f"/dashboard/export/{query}&campaign_id={campaign.id}")
        assert response.status_code == 200
        disposition = response.headers["Content-Disposition"]
        assert f"c{campaign.id}" in disposition and "summary" in disposition
        names.add(disposition)
    assert len(names) == 3
    assert "producer" in next(name for name in names if name.endswith(".csv"))


def test_the_csv_jin_column_is_a_plain_number(pooled, client, auth):
    campaign, _unit = pooled
    _operator(auth)
    text = client.get(f"/dashboard/export/summary.csv?campaign_id={campaign.id}&group_by=product").data.decode("utf-8-sig")
    header, first = (line.split(",") for line in text.splitlines()[:2])
    assert first[header.index("重量（斤）")] == "21"
