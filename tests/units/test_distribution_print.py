"""The unit's distribution list: a 打印 button (a chat app's browser has no print menu), names that stay on one line,
phones as tap-to-call links; the coordinator's page has them too, and a 44-px "only unpaid" toggle."""

import re

from factories import make_order


def test_the_distribution_list_has_a_print_button_and_dialable_phones(shop, client, auth):
    make_order(shop.campaign, [(shop.chicken, 1)], user=shop.buyer)
    make_order(
        shop.campaign,
        [(shop.eggs, 6)],
        user=shop.coordinator,
        buyer_name="欧阳振华",
        buyer_phone="13700000021",
        source="coordinator",
    )
    auth.login(shop.coordinator.phone)
    page = client.get(f"/units/campaigns/{shop.campaign.id}/distribution").get_data(as_text=True)
    assert re.search(r"<button[^>]*data-print[^>]*>打印</button>", page)
    assert re.search(r"/static/css/pinbang\.[0-9a-f]{12}\.css", page) and re.search(
        r"/static/js/pinbang\.[0-9a-f]{12}\.js", page
    )  # the print layout and the button
    assert '<td class="name">欧阳振华</td>' in page and '<td class="name">王芳</td>' in page
    assert '<a href="tel:13700000021">13700000021</a>' in page
    assert re.search(r'<table class="[^"]*\btable-cards\b[^"]*" id="distribution">', page)

    overview = client.get(f"/units/campaigns/{shop.campaign.id}").get_data(as_text=True)
    assert '<a href="tel:13900000005">13900000005</a>' in overview
    assert re.search(r'<a class="btn[^"]*" id="filter-unpaid" href="[^"]*unpaid=1">只看未付款</a>', overview)
    assert re.search(r'<a class="tap[^"]*" href="/units/">← ', overview)  # the back link, a full-size target
