"""Where each role lands after logging in, and the language switch in the bar itself, not inside the menu."""

import re

from factories import make_campaign, make_producer, make_unit, make_user


def test_a_coordinator_lands_on_the_units_page(client, auth):
    coordinator = make_user(unit=make_unit(name="乐昌市总工会"), coordinator=True)
    response = auth.login(coordinator.phone)
    assert response.status_code == 302 and response.headers["Location"].endswith("/units/")
    assert "乐昌市总工会" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_coordinator_with_a_next_page_goes_there(client, auth):
    coordinator = make_user(coordinator=True)
    response = client.post("/accounts/login?next=/orders/", data={"login": coordinator.phone, "password": "password123"})
    assert response.headers["Location"].endswith("/orders/")


def test_buyers_producers_and_operators_land_as_before(client, auth):
    for user, landing in (
        (make_user(), "/"),
        (make_user(role="producer", producer=make_producer()), "/producers/"),
        (make_user(role="operator"), "/accounts/operator"),
    ):
        response = auth.login(user.phone)
        assert response.headers["Location"].endswith(landing), (user.role, response.headers["Location"])
        auth.logout()


def _outside_the_menu(page):
    """The part of the bar before the collapsible menu: what a phone shows without opening it."""
    return page.split('<div class="collapse navbar-collapse"', 1)[0]


def test_the_language_switch_is_in_the_bar_and_switches(client, auth):
    auth.login(make_user().phone)
    bar = _outside_the_menu(client.get("/orders/").get_data(as_text=True))
    switch = re.search(r'<form method="post" action="(/accounts/language/en)".*?id="language-switch"[^>]*>([^<]+)<', bar, re.S)
    assert switch and switch.group(2).strip() == "EN"
    client.post(switch.group(1), data={"next": "/orders/"})
    english = _outside_the_menu(client.get("/orders/").get_data(as_text=True))
    assert re.search(r'id="language-switch"[^>]*>中文<', english)
    assert 'action="/accounts/language/zh_CN"' in english


def test_a_public_pages_switch_is_a_plain_link_and_no_one_is_named(client):
    campaign = make_campaign()
    bar = _outside_the_menu(client.get(f"/dashboard/results/{campaign.slug}").get_data(as_text=True))
    assert re.search(rf'href="/dashboard/results/{campaign.slug}\?lang=en"[^>]*>EN<', bar) or re.search(
        rf'id="language-switch"[^>]*href="/dashboard/results/{campaign.slug}\?lang=en"[^>]*>EN<', bar
    )
    assert 'id="nav-messages"' not in bar
