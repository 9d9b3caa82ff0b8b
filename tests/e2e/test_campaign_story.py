"""The whole story in a real browser, on a live server with a real worker.

An operator builds and publishes a campaign from the demo listings; a buyer orders on a 360×740 phone screen;
the unit's coordinator downloads the sign-up template, fills it in (openpyxl) and uploads it; the operator
closes the campaign and the worker pools it; the cooperative sees its pick list and confirms; the operator sees
the totals on the dashboard. Every step leaves a screenshot under test-artifacts/e2e/.

The figures are worked out by hand: 春雪毛鸡 (¥98.00/只) offered 60 by the cooperative and 40 by 陈华's
household; 春土鸡蛋 (¥1.50/个) 300 by 李桂英's household. Orders: 张伟 2 chickens + 30 eggs (¥241.00); the sheet
adds 李明 3 chickens and 王红 5 chickens + 60 eggs. 10 chickens split 60:40 → cooperative 6, 陈华 4.
Sales 10 × 98 + 90 × 1.5 = ¥1,115.00; weight 10 × 1.5 kg + 90 × 50 g = 19.5 kg.

Delivery day (issue 15): the cooperative brings 5 of its 6 chickens, 陈华 all 4, 李桂英 all 90 eggs. The 9 chickens are
shared by what each ordered (2:3:5 → 1.8, 2.7, 4.5; the two left over to the largest remainders): 张伟 2, 李明 3,
王红 4 of 5, so 王红 pays 4 × 98 + 60 × 1.5 = ¥482.00. 张伟 claims 1 damaged chicken, naming the cooperative; the
operator refunds it: ¥98.00. The cooperative's 我的收入: allocated 6 × 98 = ¥588.00, delivered 5 × 98 = ¥490.00,
refunded ¥98.00, due and still owed ¥392.00. `flask check-totals` then finds 0 mismatches.
"""

import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from worker_process import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.worker]

PASSWORD = "pinbang2020"  # demo/seed.py
OPERATOR, COOPERATIVE, COORDINATOR, BUYER = "13900000001", "13900000002", "13900000004", "13900000005"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
SHANGHAI = ZoneInfo("Asia/Shanghai")
TITLE = "春季助农直通车"


class Story:
    """Browser contexts per person, a screenshot per step, and a watch on every response and console message."""

    def __init__(self, browser, server, artifacts):
        self.browser = browser
        self.server = server
        self.artifacts = artifacts
        self.step = 0
        self.shots = []
        self.server_errors = []
        self.csp_violations = []
        self.contexts = []

    def person(self, phone, screen):
        context = self.browser.new_context(base_url=self.server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **screen)
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("response", lambda r: r.status >= 500 and self.server_errors.append(f"{r.status} {r.url}"))
        page.on(
            "console",
            lambda m: "Content Security Policy" in m.text and self.csp_violations.append(f"{page.url}: {m.text}"),
        )
        page.goto("/accounts/login")
        assert "登录" in page.content()  # the login page is in Chinese by default
        page.fill("#login", phone)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_load_state()
        assert "/accounts/login" not in page.url, page.content()[:2000]
        return page

    def shot(self, page, name):
        self.step += 1
        path = self.artifacts / f"{self.step:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        print(f"screenshot: {path}")

    def fits_phone(self, page):
        """Nothing wider than the 360-px screen (no sideways scrolling of the page itself)."""
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{page.url} is {width}px wide on a 360px screen"

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def story(chromium, live_server, artifacts):
    story = Story(chromium, live_server, artifacts)
    yield story
    story.close()
    print(f"e2e screenshots in {artifacts}: " + ", ".join(p.name for p in story.shots))
    for log in ("gunicorn.log", "worker.log"):
        source = live_server.instance / log
        if source.exists():
            (artifacts / log).write_text(source.read_text(errors="replace"))


def _local(dt):
    return dt.strftime("%Y-%m-%dT%H:%M")


def _add_item(page, title, price, supplies):
    page.click("a[href$='/items/new']")
    for producer_name, quantity in supplies:
        page.locator(".list-group-item", has_text=producer_name).locator("input[type=number]").fill(str(quantity))
    page.fill("#title", title)
    page.fill("#price_yuan", price)
    page.click("#submit")
    page.wait_for_url(re.compile(r"/campaigns/\d+/manage$"))
    assert title in page.content()


def test_campaign_from_publishing_to_totals(story, live_server, tmp_path):
    # 1. The operator builds the campaign from the seeded listings and publishes it.
    operator = story.person(OPERATOR, DESKTOP)
    now = datetime.now(SHANGHAI).replace(second=0, microsecond=0)
    operator.goto("/campaigns/new")
    operator.fill("#title", TITLE)
    operator.fill("#description", "雪毛鸡和土鸡蛋，截单后统一配送到单位。")
    operator.fill("#opens_at", _local(now - timedelta(hours=1)))
    operator.fill("#closes_at", _local(now + timedelta(days=1)))
    operator.fill("#delivery_on", (now + timedelta(days=3)).strftime("%Y-%m-%d"))
    operator.click("#submit")
    operator.wait_for_url(re.compile(r"/campaigns/\d+/manage$"))
    campaign_id = int(re.search(r"/campaigns/(\d+)/manage", operator.url).group(1))
    _add_item(operator, "春雪毛鸡", "98", [("秀水镇雪毛鸡养殖合作社", 60), ("陈华养鸡户", 40)])
    _add_item(operator, "春土鸡蛋", "1.50", [("李桂英蛋鸡户", 300)])
    story.shot(operator, "operator-campaign-with-items")
    operator.click("form[action$='/publish'] button")
    operator.wait_for_load_state()
    assert "已发布：买家现在可以看到此活动。" in operator.content()
    story.shot(operator, "operator-published")

    # 2. A buyer finds it on a phone and pre-orders.
    buyer = story.person(BUYER, PHONE)
    buyer.goto("/")
    buyer.click(f"text={TITLE}")
    buyer.wait_for_url(re.compile(r"/c/[^/]+$"))
    story.fits_phone(buyer)
    story.shot(buyer, "buyer-campaign-page")
    for title, quantity in (("春雪毛鸡", 2), ("春土鸡蛋", 30)):
        card = buyer.locator(".card", has_text=title)
        card.locator("input[name=quantity]").fill(str(quantity))
        card.locator("button[type=submit]").click()
        buyer.wait_for_load_state()
    buyer.click("a[href$='/cart']")
    buyer.wait_for_url(re.compile(r"/cart$"))
    story.fits_phone(buyer)
    story.shot(buyer, "buyer-cart")
    buyer.click("input[name=place]")
    buyer.wait_for_url(re.compile(r"/orders/\d+/confirmation$"))
    order_id = int(re.search(r"/orders/(\d+)/confirmation", buyer.url).group(1))
    confirmation = buyer.content()
    assert "¥241.00" in confirmation
    story.fits_phone(buyer)
    story.shot(buyer, "buyer-confirmation")

    # 2b. Mid-campaign the operator tops up the cooperative's chickens and extends the closing time by a day.
    operator.goto(f"/campaigns/{campaign_id}/manage")
    supply = operator.locator(".card", has_text="春雪毛鸡").locator("li", has_text="秀水镇雪毛鸡养殖合作社")
    supply.locator("input[name=quantity]").fill("70")
    supply.locator("input[name=reason]").fill("合作社加供 10 只")
    supply.locator("button[type=submit]").click()
    operator.wait_for_load_state()
    assert "供应量已设为 70。" in operator.content()
    assert "总量 110，已订 2，剩余 108" in operator.content()
    operator.click("a[href$='/change']")
    operator.fill("#closes_at", _local(now + timedelta(days=2)))
    operator.fill("#reason", "应各单位要求延长一天")
    operator.click("#submit")
    operator.wait_for_url(re.compile(r"/campaigns/\d+/manage$"))
    assert (now + timedelta(days=2)).strftime("%Y-%m-%d %H:%M") in operator.content()
    story.shot(operator, "operator-extended-and-topped-up")

    # 3. The coordinator fills in the unit's sign-up sheet and uploads it.
    coordinator = story.person(COORDINATOR, PHONE)
    coordinator.goto("/units/")
    coordinator.click(f"text={TITLE}")
    coordinator.wait_for_url(re.compile(rf"/units/campaigns/{campaign_id}$"))
    coordinator.click("a[href$='/sheet']")
    with coordinator.expect_download() as download:
        coordinator.click("a[href$='/template.xlsx']")
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)
    workbook = load_workbook(template)
    sheet = workbook.worksheets[0]
    headers = [cell.value for cell in sheet[1]]
    column = {
        title: next(i for i, h in enumerate(headers, 1) if h and str(h).startswith(title)) for title in ("春雪毛鸡", "春土鸡蛋")
    }
    for row, (name, phone, chickens, eggs) in enumerate(
        (("李明", "13700000011", 3, None), ("王红", "13700000012", 5, 60)), start=2
    ):
        sheet.cell(row=row, column=1, value=name)
        sheet.cell(row=row, column=2, value=phone)
        sheet.cell(row=row, column=column["春雪毛鸡"], value=chickens)
        if eggs:
            sheet.cell(row=row, column=column["春土鸡蛋"], value=eggs)
    filled = tmp_path / "总工会报名表.xlsx"
    workbook.save(filled)
    story.fits_phone(coordinator)
    story.shot(coordinator, "coordinator-upload")
    coordinator.set_input_files("input[type=file]", str(filled))
    coordinator.click("#submit")
    coordinator.wait_for_url(re.compile(rf"/units/campaigns/{campaign_id}$"))
    overview = coordinator.content()
    assert "李明" in overview and "王红" in overview and "张伟" in overview
    story.shot(coordinator, "coordinator-unit-orders")

    # 4. The operator closes the campaign; the worker pools the orders and allocates them.
    operator.goto(f"/fulfilment/campaigns/{campaign_id}")
    story.shot(operator, "operator-before-close")
    operator.click("a[href$='/close']")
    operator.wait_for_load_state()
    assert "无法撤销" in operator.content()
    operator.click("button[name=confirm]")
    operator.wait_for_load_state()
    deadline = datetime.now() + timedelta(seconds=40)
    while "秀水镇雪毛鸡养殖合作社" not in operator.content() and datetime.now() < deadline:
        operator.wait_for_timeout(500)
        operator.reload()
    page = operator.content()
    assert "秀水镇雪毛鸡养殖合作社" in page, "the worker did not allocate the campaign within 40 s"
    story.shot(operator, "operator-allocated")

    # 5. The cooperative sees exactly what to prepare and for whom, and confirms.
    cooperative = story.person(COOPERATIVE, PHONE)
    cooperative.goto("/fulfilment/picklists")
    cooperative.click(f"text={TITLE}")
    cooperative.wait_for_url(re.compile(rf"/fulfilment/picklists/{campaign_id}$"))
    card = cooperative.locator(".card", has_text="春雪毛鸡")
    assert "6 只" in card.locator(".card-header").inner_text()
    assert "乐昌市总工会" in card.inner_text()
    assert "春土鸡蛋" not in cooperative.content()  # eggs are another household's
    story.fits_phone(cooperative)
    cooperative.click("form[action$='/ack'] button")
    cooperative.wait_for_load_state()
    assert cooperative.locator(".badge.text-bg-success").count() == 1
    story.shot(cooperative, "producer-picklist")

    # 6. The operator sees the totals.
    operator.goto(f"/dashboard/?campaign_id={campaign_id}")
    assert operator.inner_text("#total-revenue").strip() == "¥1,115.00"
    assert "19.5" in operator.inner_text("#total-weight")
    story.shot(operator, "operator-dashboard")

    _delivery_day(story, live_server, campaign_id, order_id, operator, coordinator, buyer, cooperative)
    assert not story.server_errors, story.server_errors
    assert not story.csp_violations, story.csp_violations


def _delivery_day(story, live_server, campaign_id, order_id, operator, coordinator, buyer, cooperative):
    """After the close: a short delivery, a claim and its refund, the producer's income, and the totals check."""
    # 7. The coordinator records what arrived at the unit: one of the cooperative's chickens is missing.
    coordinator.goto(f"/units/campaigns/{campaign_id}")
    coordinator.click("text=到货登记")
    coordinator.wait_for_url(re.compile(rf"/delivery/campaigns/{campaign_id}/units/\d+$"))
    for producer_name, title, arrived in (
        ("秀水镇雪毛鸡养殖合作社", "春雪毛鸡", 5),
        ("陈华养鸡户", "春雪毛鸡", 4),
        ("李桂英蛋鸡户", "春土鸡蛋", 90),
    ):
        card = coordinator.locator(".card", has=coordinator.locator(".card-header", has_text=producer_name))
        card.locator(".item-row", has_text=title).locator("input[type=number]").fill(str(arrived))
        card.locator("button[type=submit]").click()
        coordinator.wait_for_load_state()
        assert f"已登记{producer_name}的到货。" in coordinator.content()
    shares = coordinator.locator("#shares")
    assert "实收 2/2 只" in shares.locator("li", has_text="张伟").inner_text()
    assert "实收 3/3 只" in shares.locator("li", has_text="李明").inner_text()
    wang = shares.locator("li", has_text="王红").inner_text()
    assert "春雪毛鸡：实收 4/5 只" in wang and "¥482.00" in wang
    story.fits_phone(coordinator)
    story.shot(coordinator, "coordinator-short-delivery")

    # 8. 张伟 files a claim on his chickens from his order: one arrived damaged.
    buyer.goto(f"/orders/{order_id}")
    buyer.click("a[href*='/claims/orders/']:has-text('春雪毛鸡')")
    buyer.wait_for_url(re.compile(rf"/claims/orders/{order_id}/new"))
    assert "春雪毛鸡" in buyer.locator("#item_id option:checked").inner_text()
    buyer.fill("#quantity", "1")
    buyer.select_option("#reason", value="damaged")
    buyer.select_option("#producer_id", label="秀水镇雪毛鸡养殖合作社")
    buyer.fill("#note", "一只鸡腿骨折了")
    story.fits_phone(buyer)
    buyer.click("#submit")
    buyer.wait_for_url(re.compile(rf"/orders/{order_id}$"))
    assert "售后申请已提交，运营人员处理后会通知您。" in buyer.content()
    assert "：春雪毛鸡 × 1只，破损" in buyer.inner_text("body")
    story.shot(buyer, "buyer-claim-filed")

    # 9. The operator finds it in the claims queue and refunds it in full.
    operator.goto("/claims/")
    claim = operator.locator("#claims tbody tr", has_text="张伟").filter(has_text="春雪毛鸡")
    assert "破损" in claim.inner_text()
    claim.locator("td a").first.click()
    operator.wait_for_url(re.compile(r"/claims/\d+$"))
    assert "春雪毛鸡 × 1只" in operator.content() and "破损" in operator.content()
    operator.select_option("#decision", value="refund")
    operator.fill("#note", "照片已核实，退款")
    operator.click("#submit")
    operator.wait_for_url(re.compile(r"/claims/$"))
    assert "已处理，并已通知买家。" in operator.content()
    story.shot(operator, "operator-refunded")
    buyer.goto(f"/orders/{order_id}")
    assert "已退 ¥98.00" in buyer.content()

    # 10. The cooperative's 我的收入: delivered 5 chickens, one refunded, ¥392.00 still owed.
    cooperative.goto("/earnings/")
    assert "我的收入" in cooperative.content()
    assert "共尚欠：¥392.00" in cooperative.content()
    row = cooperative.locator("#earnings tbody tr", has_text=TITLE)
    cells = [cell.strip() for cell in row.locator("td").all_inner_texts()]
    assert cells[1:7] == ["¥588.00", "¥490.00", "¥98.00", "¥392.00", "¥0.00", "¥392.00"], cells
    story.shot(cooperative, "producer-earnings")

    # 11. Every figure recomputed from the entries agrees with what the pages showed.
    done = subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "check-totals"],
        cwd=ROOT,
        env=live_server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and " 0 mismatches" in done.stdout, done.stdout + done.stderr


def test_a_colleague_joins_from_the_units_invitation_and_orders(story, live_server):
    """The front door: the coordinator's invitation link (what its QR code opens, shared in the unit's chat group),
    a colleague with no account registers with an SMS code on a phone, pre-orders and finds the order."""
    coordinator = story.person(COORDINATOR, PHONE)
    coordinator.goto("/units/")
    link = re.search(r"/accounts/join/[A-Za-z0-9_-]+", coordinator.content())
    assert link, "the coordinator's page shows no invitation link"
    story.shot(coordinator, "coordinator-invitation")

    context = story.browser.new_context(base_url=story.server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **PHONE)
    context.set_default_timeout(15_000)
    story.contexts.append(context)
    colleague = context.new_page()
    colleague.on("response", lambda r: r.status >= 500 and story.server_errors.append(f"{r.status} {r.url}"))
    colleague.goto(link.group(0))
    assert "乐昌市总工会" in colleague.content()
    story.fits_phone(colleague)
    colleague.fill("#name", "赵敏")
    colleague.fill("#phone", "13700000099")
    colleague.click("#send_code")
    colleague.wait_for_load_state()
    sms = [line for line in (live_server.instance / "sms.log").read_text().splitlines() if "\t13700000099\t" in line]
    code = re.search(r"\d{6}", sms[-1].split("\t")[2]).group(0)
    colleague.fill("#sms_code", code)
    story.shot(colleague, "colleague-registers")
    colleague.click("#submit")
    colleague.wait_for_load_state()
    assert "/accounts/join" not in colleague.url, colleague.content()[:2000]

    colleague.goto("/")
    colleague.click("text=乐昌消费扶贫·春季助农专场")
    colleague.wait_for_url(re.compile(r"/c/[^/]+$"))
    card = colleague.locator(".card", has_text="乐昌马蹄").first
    card.locator("input[name=quantity]").fill("10")
    card.locator("button[type=submit]").click()
    colleague.wait_for_load_state()
    colleague.click("a[href$='/cart']")
    colleague.wait_for_url(re.compile(r"/cart$"))
    colleague.click("input[name=place]")
    colleague.wait_for_url(re.compile(r"/orders/\d+/confirmation$"))
    assert "¥45.00" in colleague.content()
    colleague.goto("/orders/")
    assert "乐昌消费扶贫·春季助农专场" in colleague.content()
    story.fits_phone(colleague)
    story.shot(colleague, "colleague-my-orders")
    assert not story.server_errors, story.server_errors
