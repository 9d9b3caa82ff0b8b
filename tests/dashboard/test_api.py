"""GET /api/v1/stats/summary: the contract's shape, the hand-computed figures, and operators only."""

from factories import make_user


def test_summary_by_product_has_the_contract_shape(sales_data, operator, api_as):
    response = api_as(operator).get("/stats/summary")
    assert response.status_code == 200
    body = response.get_json()
    assert {"revenue_fen", "orders", "buyers", "producers", "poverty_households", "weight_kg"} <= set(body["totals"])
    assert body["totals"]["revenue_fen"] == 57900
    assert body["totals"]["weight_kg"] == 24.5
    assert body["totals"]["poverty_households"] == 67
    chicken = next(row for row in body["rows"] if row["key"] == "雪毛鸡/只")
    assert {"key", "label", "quantity", "unit", "weight_kg", "revenue_fen", "orders"} <= set(chicken)
    assert (
        chicken["label"],
        chicken["quantity"],
        chicken["unit"],
        chicken["weight_kg"],
        chicken["revenue_fen"],
        chicken["orders"],
    ) == (
        "雪毛鸡",
        3,
        "只",
        4.5,
        29400,
        2,
    )


def test_summary_per_campaign_and_grouping(sales_data, operator, api_as):
    client = api_as(operator)
    body = client.get(f"/stats/summary?campaign_id={sales_data.camp_a.id}&group_by=day").get_json()
    assert body["totals"]["revenue_fen"] == 44400
    assert [(row["key"], row["revenue_fen"]) for row in body["rows"]] == [("2026-03-02", 33900), ("2026-03-03", 10500)]
    towns = client.get("/stats/summary?group_by=town").get_json()["rows"]
    assert [row["key"] for row in towns][-1] == "unallocated"
    assert next(row for row in towns if row["key"] == "秀水镇")["revenue_fen"] == 29400


def test_bad_arguments(sales_data, operator, api_as):
    client = api_as(operator)
    wrong_group = client.get("/stats/summary?group_by=colour")
    assert wrong_group.status_code == 422
    assert "group_by" in wrong_group.get_json()["error"]["details"]["fields"]
    assert client.get("/stats/summary?campaign_id=abc").status_code == 422
    missing = client.get("/stats/summary?campaign_id=99999")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_only_operators(sales_data, api, api_as):
    assert api.get("/stats/summary").status_code == 401
    for user in (make_user(role="buyer"), make_user(role="buyer", coordinator=True), make_user(role="producer")):
        response = api_as(user).get("/stats/summary")
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"
