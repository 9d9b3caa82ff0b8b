"""A unit's invitation (link, QR code, rotation) and its roster import: preview, confirm with SMS invitations in the
SMS channel, bad rows and hostile files refused with nothing sent; through the pages and the API."""

import io
import re
import zipfile

import pytest
import sqlalchemy as sa
from sms_inbox import texts_to

from accounts.models import UnitInvitation
from extensions import db
from notifications.models import Notification
from notifications.services import dispatch_due

ENTITIES = b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>"""


def rezip(data, replace=None, add=None):
    """The same workbook with some parts replaced or added."""
    replace, add = replace or {}, add or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def _invitations_queued():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.kind == "unit_invitation"))


def _upload(client, unit_id, data, filename="名单.xlsx", dry_run=False):
    return client.post(
        f"/units/{unit_id}/roster" + ("?dry_run=true" if dry_run else ""),
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_the_coordinators_unit_page_shows_the_invitation_link_its_qr_code_and_replaces_them(client, auth, shop):
    auth.login(shop.coordinator.phone)
    page = client.get("/units/").get_data(as_text=True)
    [url] = re.findall(r'id="invitation-url" type="text" readonly value="([^"]+)"', page)
    code = url.rsplit("/", 1)[1]
    assert "邀请同事" in page and f"/units/{shop.unit.id}/invite.svg" in page
    svg = client.get(f"/units/{shop.unit.id}/invite.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and url.encode() in svg.data
    png = client.get(f"/units/{shop.unit.id}/invite.png")
    assert png.data.startswith(b"\x89PNG")
    assert client.get(f"/accounts/join/{code}").status_code == 200

    rotated = client.post(f"/units/{shop.unit.id}/invite/rotate", data={"back": "index"}, follow_redirects=True)
    text = rotated.get_data(as_text=True)
    assert "旧的已失效" in text and code not in text
    assert client.get(f"/accounts/join/{code}").status_code == 404


def test_the_invitation_api_is_for_the_units_coordinator_and_operators(shop, api_as):
    coordinator, operator = api_as(shop.coordinator), api_as(shop.operator)
    first = coordinator.get(f"/units/{shop.unit.id}/invite").get_json()
    assert operator.get(f"/units/{shop.unit.id}/invite").get_json() == first
    assert api_as(shop.other_coordinator).get(f"/units/{shop.unit.id}/invite").status_code == 404
    assert api_as(shop.buyer).get(f"/units/{shop.unit.id}/invite").status_code == 403
    assert api_as(shop.buyer).post(f"/units/{shop.unit.id}/invite").status_code == 403
    second = coordinator.post(f"/units/{shop.unit.id}/invite").get_json()
    assert second["code"] != first["code"] and coordinator.get(f"/units/{shop.unit.id}/invite").get_json() == second
    live = db.session.scalars(sa.select(UnitInvitation).where(UnitInvitation.retired_at.is_(None))).all()
    assert [i.code for i in live] == [second["code"]]


ROSTER = [
    ["序号", "姓名", "手机号", "部门"],
    [1, "张三", "13711110001", "办公室"],
    [2, "王芳", 13900000005, "办公室"],  # already has an account; typed as a number in Excel
    [3, "李四", "+86 137-1111-0002", "财务科"],
]


def test_a_roster_preview_sorts_new_existing_and_invalid_rows_and_sends_nothing(shop, api_as, files):
    rows = ROSTER + [[4, "", "13711110003", ""], [5, "赵六", "1371111", ""], [6, "钱七", "13711110001", ""]]
    response = _upload(api_as(shop.coordinator), shop.unit.id, files.xlsx(rows), dry_run=True)
    assert response.status_code == 200
    body = response.get_json()
    assert [(p["name"], p["phone"]) for p in body["added"]] == [("张三", "13711110001"), ("李四", "13711110002")]
    assert [(p["name"], p["phone"]) for p in body["existing"]] == [("王芳", "13900000005")]
    assert [(p["row"], p["column"], p["message"]) for p in body["rows"]] == [
        (5, "姓名", "请填写姓名。"),
        (6, "手机号", "“1371111”不是 11 位手机号。"),
        (7, "手机号", "这个手机号已在第 2 行出现。"),
    ]
    assert _invitations_queued() == 0


def test_a_roster_with_a_bad_row_is_refused_whole_and_sends_nothing(shop, api_as, files):
    response = _upload(api_as(shop.coordinator), shop.unit.id, files.csv(ROSTER + [[4, "赵六", "12345", ""]]), "名单.csv")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_sheet" and error["details"]["rows"][0]["row"] == 5
    assert _invitations_queued() == 0


def test_confirming_a_roster_invites_each_new_person_by_sms_once(shop, api_as, files, app):
    client = api_as(shop.coordinator)
    response = _upload(client, shop.unit.id, files.xlsx(ROSTER))
    assert response.status_code == 201 and response.get_json()["invited"] == 2
    dispatch_due()
    url = client.get(f"/units/{shop.unit.id}/invite").get_json()["url"]
    for phone in ("13711110001", "13711110002"):
        [text] = [text for text in texts_to(app, phone) if url in text]
        assert "乐昌市总工会在拼帮上" in text
    assert all(url not in text for text in texts_to(app, "13900000005"))
    # The same list again sends nothing twice; after the link is replaced, the new one goes out.
    assert _upload(client, shop.unit.id, files.xlsx(ROSTER)).get_json()["invited"] == 0
    dispatch_due()
    assert len([text for text in texts_to(app, "13711110001") if url in text]) == 1
    new_url = client.post(f"/units/{shop.unit.id}/invite").get_json()["url"]
    assert _upload(client, shop.unit.id, files.xlsx(ROSTER)).get_json()["invited"] == 2
    dispatch_due()
    assert new_url in texts_to(app, "13711110001")[-1]


def test_the_roster_is_for_the_units_coordinator_and_operators(shop, api_as, files):
    data = files.xlsx(ROSTER)
    assert _upload(api_as(shop.other_coordinator), shop.unit.id, data).status_code == 404
    assert _upload(api_as(shop.buyer), shop.unit.id, data).status_code == 403
    assert _upload(api_as(shop.operator), shop.unit.id, data, dry_run=True).status_code == 200
    assert _invitations_queued() == 0


@pytest.fixture
def good(files):
    return files.xlsx(ROSTER)


@pytest.mark.parametrize(
    "hostile,message",
    [
        (lambda good: rezip(good, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 512}), "宏"),
        (lambda good: rezip(good, replace={"xl/worksheets/sheet1.xml": ENTITIES}), "XML"),
        (lambda good: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "xls"),
        (lambda good: good[: len(good) // 2], "xlsx"),
    ],
)
def test_hostile_rosters_are_refused_with_a_reason_and_send_nothing(shop, api_as, good, hostile, message):
    response = _upload(api_as(shop.coordinator), shop.unit.id, hostile(good), dry_run=True)
    assert response.status_code == 422
    assert message in response.get_json()["error"]["message"]
    assert _invitations_queued() == 0


def test_a_roster_formula_is_refused_cell_by_cell(shop, api_as, files):
    data = files.xlsx(ROSTER, formulas=[("B3", '=HYPERLINK("http://evil","王芳")')])
    body = _upload(api_as(shop.coordinator), shop.unit.id, data, dry_run=True).get_json()
    assert [(p["row"], p["cell"], p["message"]) for p in body["rows"]][0] == (3, "B3", "不接受公式；请直接填写数值。")
    assert [p["name"] for p in body["added"]] == ["张三", "李四"]


def test_a_roster_over_the_size_limit_is_413(shop, api_as):
    response = _upload(api_as(shop.coordinator), shop.unit.id, b"a" * (3 * 1024 * 1024), "名单.csv")
    assert response.status_code == 413


def test_the_roster_pages_preview_then_confirm(client, auth, shop, files, app):
    auth.login(shop.coordinator.phone)
    page = client.get(f"/units/{shop.unit.id}/people").get_data(as_text=True)
    assert "按职工名单邀请" in page
    bad = client.post(
        f"/units/{shop.unit.id}/roster",
        data={"file": (io.BytesIO(files.csv(ROSTER + [[4, "赵六", "123", ""]])), "名单.csv")},
        content_type="multipart/form-data",
    )
    assert (
        bad.status_code == 422
        and "“123”不是 11 位手机号。" in bad.get_data(as_text=True)
        and "发送邀请" not in bad.get_data(as_text=True)
    )
    preview = client.post(
        f"/units/{shop.unit.id}/roster",
        data={"file": (io.BytesIO(files.xlsx(ROSTER)), "名单.xlsx")},
        content_type="multipart/form-data",
    )
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "新同事：2 人" in text and "已有账号：1 人" in text and "张三" in text
    assert _invitations_queued() == 0
    [roster] = re.findall(r'name="roster" type="hidden" value="([^"]+)"', text)
    before = len(texts_to(app, "13711110002"))
    done = client.post(
        f"/units/{shop.unit.id}/roster/confirm", data={"roster": roster, "filename": "名单.xlsx"}, follow_redirects=True
    )
    assert "已通过短信发出 2 条邀请。" in done.get_data(as_text=True)
    dispatch_due()
    assert len(texts_to(app, "13711110002")) == before + 1


def test_an_operator_reaches_any_units_invitation_and_roster_from_the_units_list(client, auth, shop):
    auth.login(shop.operator.phone)
    assert f"/units/{shop.unit.id}/people" in client.get("/accounts/units").get_data(as_text=True)
    assert client.get(f"/units/{shop.other_unit.id}/people").status_code == 200
    auth.logout()
    auth.login(shop.coordinator.phone)
    assert client.get(f"/units/{shop.other_unit.id}/people").status_code == 404
