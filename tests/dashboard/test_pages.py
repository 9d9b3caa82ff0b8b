"""Dashboard pages: operators only; the public results page shows totals and nothing personal."""

import pytest

from factories import make_user

OPERATOR_PAGES = [
    "/dashboard/",
    "/dashboard/?campaign_id={a}",
    "/dashboard/sales?group_by=producer",
    "/dashboard/sales?group_by=day&campaign_id={a}",
    "/dashboard/outstanding",
    "/dashboard/campaigns/{a}/delivery",
    "/dashboard/campaigns/{a}/delivery/{u1}",
    "/dashboard/campaigns/{a}/settlement",
    "/dashboard/campaigns/{a}/settlement/{p1}",
    "/dashboard/export/summary.csv",
]


def _paths(d):
    return [path.format(a=d.camp_a.id, u1=d.u1.id, p1=d.p1.id) for path in OPERATOR_PAGES]


def test_operator_sees_every_page(sales_data, operator, client, auth):
    auth.login(operator.phone)
    for path in _paths(sales_data):
        assert client.get(path).status_code == 200, path


def test_overview_shows_totals_charts_and_households_in_chinese(sales_data, operator, client, auth):
    auth.login(operator.phone)
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "¥579.00" in page  # 57,900 fen
    assert "24.5 kg" in page and "49 斤" in page  # 斤 shown beside kg in Chinese
    assert "贫困户" in page and "67" in page
    assert page.count("<svg") == 3 and "<script>" not in page.split("</main>")[0]
    assert "尚未分配" in page  # campaign B's sales are shown apart until pooled


def test_dashboard_link_in_the_operator_nav(operator, client, auth):
    auth.login(operator.phone)
    assert 'href="/dashboard/"' in client.get("/accounts/operator").get_data(as_text=True)


@pytest.mark.parametrize("role", ["buyer", "producer"])
def test_other_roles_are_refused(sales_data, client, auth, role):
    auth.login(make_user(role=role).phone)
    statement = f"/dashboard/campaigns/{sales_data.camp_a.id}/settlement/{sales_data.p1.id}"
    for path in _paths(sales_data):
        # A producer may open its own statement only (issue 15.5): another producer's is not found.
        expected = 404 if role == "producer" and path == statement else 403
        assert client.get(path).status_code == expected, path


def test_a_producer_sees_its_own_statement_and_not_another(sales_data, client, auth):
    auth.login(make_user(role="producer", producer=sales_data.p1).phone)
    own = client.get(f"/dashboard/campaigns/{sales_data.camp_a.id}/settlement/{sales_data.p1.id}")
    assert own.status_code == 200 and sales_data.p1.name in own.get_data(as_text=True)
    other = f"/dashboard/campaigns/{sales_data.camp_a.id}/settlement/{sales_data.p2.id}"
    assert client.get(other).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(sales_data, client):
    for path in _paths(sales_data):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login" in response.headers["Location"], path


def test_public_results_page_shows_totals_without_logging_in(sales_data, client):
    response = client.get("/dashboard/results/spring26")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "春季消费扶贫" in page
    assert "¥444.00" in page  # campaign A's sales
    # Nothing delivered yet: households count completed sales by default (0), the pledged figure beside (25 =
    # 2 poverty households direct + 23 linked to the cooperative).
    assert 'id="households">0<' in page and 'id="households-pledged">25<' in page
    assert 'id="figures-basis"' in page
    assert "雪毛鸡" in page and "3 只" in page and "100 个" in page
    assert "秀水镇" in page  # towns are not personal
    assert "public" in response.headers["Cache-Control"]


def test_public_results_page_leaks_nothing_personal(sales_data, client):
    d = sales_data
    page = client.get("/dashboard/results/spring26").get_data(as_text=True)
    buyers = [d.b1, d.b2, d.b3, d.b4, d.b5]
    for buyer in buyers:
        assert buyer.name not in page and buyer.phone not in page
    for producer in [d.p1, d.p2, d.p3, d.p4, d.p5]:
        assert producer.name not in page and producer.phone not in page
        assert not producer.poverty_id or producer.poverty_id not in page
    for unit in (d.u1, d.u2):
        assert unit.name not in page and unit.address not in page


def test_public_results_page_is_not_there_for_drafts(sales_data, client):
    assert client.get("/dashboard/results/draft26").status_code == 404
    assert client.get("/dashboard/results/no-such").status_code == 404


def test_sales_table_groups_and_exports(sales_data, operator, client, auth):
    auth.login(operator.phone)
    page = client.get(f"/dashboard/sales?group_by=unit&campaign_id={sales_data.camp_a.id}").get_data(as_text=True)
    assert "乐昌市总工会" in page and "乐昌市妇联" in page
    assert "雪毛鸡 3 只" in page  # the unit's goods in their own sale units
    assert f"/dashboard/export/summary.xlsx?group_by=unit&amp;campaign_id={sales_data.camp_a.id}" in page


def test_page_for_a_missing_campaign_is_404(operator, client, auth):
    auth.login(operator.phone)
    assert client.get("/dashboard/campaigns/999/delivery").status_code == 404
    assert client.get("/dashboard/?campaign_id=999").status_code == 404
