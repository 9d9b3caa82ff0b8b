"""The delivery sheet on a phone and on paper: people and producers as tap-to-call links, a 打印 button, name cells
kept on one line, tables marked to become cards on a narrow screen."""

import re


def test_the_delivery_sheets_phones_are_tap_to_call_and_it_prints(sales_data, operator, client, auth):
    d = sales_data
    auth.login(operator.phone)
    page = client.get(f"/dashboard/campaigns/{d.camp_a.id}/delivery/{d.u1.id}").get_data(as_text=True)
    assert '<a href="tel:13700000001">13700000001</a>' in page  # 张三, who collects the goods
    assert f'<a href="tel:{d.p1.phone}">{d.p1.phone}</a>' in page  # the producer delivering them
    assert re.search(r"<button[^>]*data-print[^>]*>打印</button>", page)
    assert '<td class="name">张三</td>' in page
    for table in ("sheet-items", "sheet-people"):
        assert re.search(rf'<table class="[^"]*\btable-cards\b[^"]*" id="{table}">', page), table


def test_the_dashboards_tables_become_cards_on_a_phone(sales_data, operator, client, auth):
    auth.login(operator.phone)
    page = client.get("/dashboard/").get_data(as_text=True)
    for table in ("products", "campaigns"):
        assert re.search(rf'<table class="[^"]*\btable-cards\b[^"]*" id="{table}">', page), table
    assert re.search(
        r"/static/js/pinbang\.[0-9a-f]{12}\.js", page
    )  # (its versioned name) labels the cards' cells and binds the print buttons
