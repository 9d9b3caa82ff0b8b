"""Script injected into every free-text field comes back escaped, on every page for every role, and intact in JSON.

The world's text columns (names, titles, descriptions, addresses, villages, notes, reasons, references, file
names, message titles and bodies …) are all set to markup — some through the services a user would go through
(a sheet with a hostile name and file name, a delivery note, a payout reference), the rest written straight
into the database, as stored data from any path would be. Then every page of the authorization table is opened
as every role: the raw markup must never appear in an HTML answer, and its escaped form must appear.
"""

import csv
import io

import pytest
import sqlalchemy as sa
from security.test_authorization_matrix import READS, TABLE
from security.world import ROLES, bearer_headers, build_world, session_client

SCRIPT = "\"'><script>alert('xss')</script>"
SHORT = "<b>x</b>"  # for columns of up to 8 characters (sale units)
ESCAPED = "&lt;script&gt;alert("

# table → free-text columns shown to people (keys, enums, phones, hashes and slugs stay as they are)
FREE_TEXT = {
    "producer": ["name", "town", "village", "poverty_id"],
    "unit": ["name", "address"],
    "user": ["name"],
    "campaign": ["title", "description"],
    "listing": ["name", "category", "variety", "unit", "description", "reject_reason"],
    "campaign_item": ["title", "category", "description", "unit"],
    "notification": ["title", "body", "last_error"],
    "delivery": ["note"],
    "group_sheet": ["filename"],
    "payout": ["reference"],
    "buyer_order": ["buyer_name", "note"],
    "audit_entry": ["on_behalf_of"],
}


def _hostile_world():
    from dashboard import delivery, settlement
    from extensions import db
    from units.sheet_import import import_sheet

    world = build_world()
    operator, coordinator = world.users["operator"], world.users["coordinator"]
    item_title = world.open.items[0].title
    text = io.StringIO()
    csv.writer(text).writerows([["姓名", "手机号", item_title], [SCRIPT, "13700000077", "1"]])
    sheet = text.getvalue().encode()
    import_sheet(coordinator, world.ids["open"], io.BytesIO(sheet), filename=f"{SCRIPT}.csv")
    delivery.mark_delivered(operator, world.ids["done"], world.ids["unit"], note=SCRIPT)
    settlement.record_payout(operator, world.ids["done"], world.ids["producer"], 100, "transfer", reference=SCRIPT)
    db.session.commit()
    with db.engine.begin() as connection:
        for table_name, columns in FREE_TEXT.items():
            table = db.metadata.tables[table_name]
            values = {}
            for name in columns:
                length = table.c[name].type.length
                text = SHORT if length is not None and length < len(SCRIPT) + 4 else SCRIPT
                # Unique columns (unit and producer names) get the row id appended.
                values[name] = sa.func.coalesce(sa.literal(text), "") + (sa.cast(table.c.id, sa.String) if name == "name" else "")
            connection.execute(sa.update(table).values(**values))
    db.session.expire_all()
    return world


@pytest.mark.parametrize("role", ROLES)
def test_markup_in_every_text_field_is_escaped_on_every_page(app, role):
    world = _hostile_world()
    client = session_client(app, None if role == "anonymous" else world.users[role])
    failures, escaped_pages = [], 0
    for method, rule in READS:
        path, _statuses, _extra = TABLE[(method, rule)]
        url = path.format(**world.ids)
        api = url.startswith("/api/")
        response = client.get(url, headers=bearer_headers(world.users[role]) if api and role != "anonymous" else {})
        assert response.status_code < 500, f"GET {url} as {role}: {response.status_code}"
        if response.mimetype == "text/html":
            page = response.get_data(as_text=True)
            for raw in ("<script>alert(", SHORT):
                if raw in page:
                    at = page.index(raw)
                    failures.append(f"GET {url} as {role}: unescaped {raw!r}: …{page[max(0, at - 100) : at + 60]}…")
            escaped_pages += ESCAPED in page
        elif response.mimetype == "application/json" and api:
            assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert not failures, "\n".join(failures)
    if role != "anonymous":
        assert escaped_pages > 0  # the markup did reach this role's pages, escaped


def test_json_returns_the_markup_intact_as_data(app):
    world = _hostile_world()
    headers = bearer_headers(world.users["buyer"])
    response = app.test_client().get(f"/api/v1/campaigns/{world.ids['open']}", headers=headers)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["title"] == SCRIPT  # data, not HTML: neither stripped nor double-escaped
    assert {item["title"] for item in body["items"]} == {SCRIPT}
    order = app.test_client().get(f"/api/v1/orders/{world.ids['order']}", headers=headers).get_json()
    assert order.get("note") == SCRIPT


def test_flash_messages_with_names_are_escaped(app):
    world = _hostile_world()
    client = session_client(app, world.users["operator"])
    page = client.post(f"/producers/registry/{world.ids['producer']}/approve", follow_redirects=True).get_data(as_text=True)
    assert "<script>alert(" not in page
    assert ESCAPED in page
