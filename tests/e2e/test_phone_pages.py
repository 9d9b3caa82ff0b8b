"""A coordinator's, an operator's and a producer's pages on a 360×740 phone, and the sheets they print.

The demo campaign gets orders through the services (张伟 himself, and the coordinator for 欧阳振华 and 李明; 刘敏 of
妇联) and is pooled, so the demo household 陈华 (registered poor: filled first under poor_first) has a pick list for
two units. Then on each page of the delivery-day journey: no table hides its key column off the screen (the key
cells are inside the screen, or the table is shown as cards), and no visible tap target is under 44 px. The
distribution list and the pick list are printed to PDF, and their print layout keeps every name on one line and
carries the contacts: the receiving unit's coordinator and phone, and the producer's phone.
"""

import json
import re
import subprocess
import sys

import pytest

from worker_process import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.worker]

PASSWORD = "pinbang2020"  # demo/seed.py
OPERATOR, HOUSEHOLD, COORDINATOR = "13900000001", "13900000003", "13900000004"
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
A4_WIDTH = 718  # an A4 page's printable width in CSS pixels, with Chromium's default margins
TITLE = "乐昌消费扶贫·春季助农专场"

# Runs inside the app against the live server's database: orders through the one order service, then the close.
PREPARE = r"""
import json, sys, time
import sqlalchemy as sa
from app import create_app
from accounts.models import User
from extensions import db
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from orders.services import place_order
from shop.models import Campaign, CampaignItem

app = create_app()
with app.app_context():
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.title == sys.argv[1]))
    chicken = db.session.scalar(sa.select(CampaignItem).where(CampaignItem.campaign_id == campaign.id, CampaignItem.title == "雪毛鸡"))
    honey = db.session.scalar(sa.select(CampaignItem).where(CampaignItem.campaign_id == campaign.id, CampaignItem.title == "百花蜜"))
    user = {u.phone: u for u in db.session.scalars(sa.select(User))}
    place_order(user["13900000005"], campaign.id, [(chicken.id, 2), (honey.id, 1)])
    coordinator = user["13900000004"]
    for name, phone, quantity in (("欧阳振华", "13700000021", 3), ("李明", "13700000022", 1)):
        place_order(coordinator, campaign.id, [(chicken.id, quantity)], buyer_name=name, buyer_phone=phone,
                    unit_id=coordinator.unit_id, source="coordinator")
    place_order(user["13900000006"], campaign.id, [(chicken.id, 1)])
    campaign_id, unit_id = campaign.id, coordinator.unit_id
    closing.request_close(user["13900000001"], campaign_id)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        closing.close_campaign(campaign_id)
        db.session.expire_all()
        if db.session.get(Campaign, campaign_id).status != "closed":
            break
        time.sleep(0.5)
    expand_fanouts(RENDERERS)  # the close's notices, as the worker does right after it (whichever is first)
    print(json.dumps({"campaign_id": campaign_id, "unit_id": unit_id, "status": db.session.get(Campaign, campaign_id).status}))
"""

# Every visible tap target smaller than 44 px: height for all, and width too for checkboxes and icon-sized targets.
SMALL_TARGETS = """() => {
  const small = [];
  const visible = (el) => {
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    return style.visibility !== "hidden" && style.display !== "none" && box.width > 0 && box.height > 0 && el.offsetParent !== null;
  };
  const targets = document.querySelectorAll("a[href], button, select, input[type=checkbox], label");
  for (const el of targets) {
    if (el.tagName === "LABEL") {
      const input = el.control || el.querySelector("input");
      if (!input || input.type !== "checkbox") continue;
    }
    if (!visible(el)) continue;
    const box = el.getBoundingClientRect();
    const icon = el.matches("input[type=checkbox]") || (el.textContent.trim().length <= 2 && el.tagName !== "SELECT");
    if (box.height < 43.5 || (icon && box.width < 43.5)) {
      small.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.name || "").trim().slice(0, 30)}" ${Math.round(box.width)}x${Math.round(box.height)}`);
    }
  }
  return small;
}"""

# Tables whose key cells (the first column) lie outside the screen, unless the table is shown as cards.
HIDDEN_KEYS = """() => {
  const hidden = [];
  for (const table of document.querySelectorAll("main table")) {
    if (table.offsetParent === null) continue;
    const firstRow = table.querySelector("tbody tr");
    if (firstRow && getComputedStyle(firstRow).display === "block") continue;  // shown as cards
    for (const row of table.querySelectorAll("tbody tr")) {
      const cell = row.querySelector("td.name, th.name") || row.cells[0];
      if (!cell) continue;
      const box = cell.getBoundingClientRect();
      if (box.left < 0 || box.right > window.innerWidth + 0.5) {
        hidden.push(`${table.id || "table"}: "${cell.textContent.trim().slice(0, 20)}" at ${Math.round(box.left)}..${Math.round(box.right)}`);
      }
    }
    // The last column (the amount, the buttons) must be on the screen too: a table that scrolls sideways hides it.
    const scroller = table.closest(".table-responsive");
    if (scroller && scroller.scrollWidth > scroller.clientWidth + 1) {
      hidden.push(`${table.id || "table"} scrolls sideways (${scroller.scrollWidth}px in ${scroller.clientWidth}px)`);
    }
  }
  return hidden;
}"""

# For each element matched, how many lines its text takes: the distinct tops of the text's line boxes.
LINES_OF = """(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set(Array.from(range.getClientRects()).filter((r) => r.width > 0).map((r) => Math.round(r.top)));
  return [el.textContent.trim(), tops.size];
})"""


@pytest.fixture(scope="module")
def pooled(live_server):
    """The demo campaign with four orders from two units, pooled; {campaign_id, unit_id}."""
    done = subprocess.run(
        [sys.executable, "-c", PREPARE, TITLE], cwd=ROOT, env=live_server.env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state["status"] == "allocated", state
    return state


@pytest.fixture
def person(chromium, live_server):
    contexts = []
    errors = []

    def log_in(phone, screen=PHONE):
        context = chromium.new_context(base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai", **screen)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("response", lambda r: r.status >= 500 and errors.append(f"{r.status} {r.url}"))
        page.on("console", lambda m: "Content Security Policy" in m.text and errors.append(f"{page.url}: {m.text}"))
        page.goto("/accounts/login")
        page.fill("#login", phone)
        page.fill("#password", PASSWORD)
        page.click("#submit")
        page.wait_for_load_state()
        assert "/accounts/login" not in page.url
        return page

    yield log_in
    for context in contexts:
        context.close()
    assert not errors, errors


def phone_page_problems(page, path, artifacts, name) -> list[str]:
    """What is wrong with one page on the phone: too wide, key cells off the screen, small targets, a hidden switch."""
    page.goto(path)
    page.wait_for_load_state("load")
    page.screenshot(path=str(artifacts / f"phone-{name}.png"), full_page=True)
    problems = [f"{path}: key column hidden: {p}" for p in page.evaluate(HIDDEN_KEYS)]
    problems += [f"{path}: tap target under 44 px: {p}" for p in page.evaluate(SMALL_TARGETS)]
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > 360:
        problems.append(f"{path} is {width}px wide on a 360-px screen")
    # The language switch and the messages are in the bar itself, not behind the menu button (on pages with a bar:
    # the printable sheets have none).
    for quick in ("#language-switch", "#nav-messages") if page.locator("nav.navbar").count() else ():
        if not page.locator(quick).is_visible():
            problems.append(f"{path}: {quick} is not visible without opening the menu")
    return problems


def test_coordinators_pages_on_a_phone(person, pooled, artifacts):
    coordinator = person(COORDINATOR)
    assert coordinator.url.endswith("/units/"), "a coordinator lands on the unit's page"
    assert coordinator.locator("#unread-badge").is_visible()  # the orders entered for colleagues were confirmed in-app
    campaign_id = pooled["campaign_id"]
    problems = []
    for path, name in (
        ("/units/", "unit"),
        (f"/units/campaigns/{campaign_id}", "unit-campaign"),
        (f"/units/campaigns/{campaign_id}?unpaid=1", "unit-campaign-unpaid"),
        (f"/units/campaigns/{campaign_id}/distribution", "distribution"),
        ("/orders/", "orders"),
        ("/notifications/", "messages"),
    ):
        problems += phone_page_problems(coordinator, path, artifacts, name)
    assert not problems, "\n".join(problems)
    # Having read the messages, the badge is gone.
    coordinator.goto("/units/")
    assert coordinator.locator("#unread-badge").count() == 0


def test_operators_pages_on_a_phone(person, pooled, artifacts):
    operator = person(OPERATOR)
    campaign_id, unit_id = pooled["campaign_id"], pooled["unit_id"]
    problems = []
    for path, name in (
        ("/dashboard/", "dashboard"),
        (f"/dashboard/?campaign_id={campaign_id}", "dashboard-campaign"),
        ("/dashboard/sales", "sales"),
        (f"/dashboard/campaigns/{campaign_id}/delivery", "delivery"),
        (f"/dashboard/campaigns/{campaign_id}/delivery/{unit_id}", "delivery-sheet"),
        (f"/dashboard/campaigns/{campaign_id}/settlement", "settlement"),
    ):
        problems += phone_page_problems(operator, path, artifacts, name)
    assert not problems, "\n".join(problems)
    operator.goto("/dashboard/")
    row = operator.locator("#campaigns tbody tr", has_text=TITLE)
    for target in (row.locator("a[href$='/delivery']"), row.locator("a[href$='/settlement']")):
        box = target.bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= 360, "配送/结算 are on the screen"
    # The delivery sheet names people on one line, and every phone is tap-to-call.
    operator.goto(f"/dashboard/campaigns/{campaign_id}/delivery/{unit_id}")
    for text, lines in operator.evaluate(LINES_OF, "#sheet-people td.name"):
        assert lines == 1, f"{text} takes {lines} lines"
    assert operator.locator("#sheet-people a[href='tel:13700000021']").count() == 1


def test_the_login_page_on_a_phone(chromium, live_server, artifacts):
    """The first page anyone sees: its "keep me logged in" checkbox and its links are full-size targets too."""
    context = chromium.new_context(base_url=live_server.url, locale="zh-CN", **PHONE)
    try:
        page = context.new_page()
        page.goto("/accounts/login")
        page.screenshot(path=str(artifacts / "phone-login.png"), full_page=True)
        assert page.evaluate(SMALL_TARGETS) == []
        assert page.locator("#language-switch").is_visible()
    finally:
        context.close()


def test_producers_pick_list_on_a_phone(person, pooled, artifacts):
    household = person(HOUSEHOLD)
    campaign_id = pooled["campaign_id"]
    assert phone_page_problems(household, f"/fulfilment/picklists/{campaign_id}", artifacts, "picklist") == []
    assert household.locator("a[href='tel:13900000004']").count() >= 1  # the coordinator of 总工会, tap to call
    household.goto(f"/fulfilment/picklists/{campaign_id}/print")
    assert household.evaluate(SMALL_TARGETS) == []
    assert household.locator("button[data-print]").is_visible()


def _print_layout(page, path, pdf_path):
    """The sheet printed to PDF, then shown in print media at an A4 page's width."""
    page.goto(path)
    page.wait_for_load_state("load")
    assert page.locator("button[data-print]").is_visible(), "a 打印 button"
    page.pdf(path=str(pdf_path), format="A4")
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5000
    page.set_viewport_size({"width": A4_WIDTH, "height": 1000})
    page.emulate_media(media="print")
    assert not page.locator("button[data-print]").is_visible(), "the button itself is not printed"
    page.screenshot(path=str(pdf_path.with_suffix(".print.png")), full_page=True)


def test_printed_distribution_list(person, pooled, artifacts):
    coordinator = person(COORDINATOR)
    _print_layout(coordinator, f"/units/campaigns/{pooled['campaign_id']}/distribution", artifacts / "distribution.pdf")
    names = dict(coordinator.evaluate(LINES_OF, "#distribution tbody td.name"))
    assert set(names) >= {"欧阳振华", "李明"}
    assert all(lines == 1 for lines in names.values()), names
    assert "13700000021" in coordinator.inner_text("#distribution")


def test_printed_pick_list_carries_the_contacts(person, pooled, artifacts):
    household = person(HOUSEHOLD)
    _print_layout(household, f"/fulfilment/picklists/{pooled['campaign_id']}/print", artifacts / "picklist.pdf")
    printed = household.inner_text("main")
    assert "乐昌市总工会" in printed and "乐昌市妇联" in printed
    assert re.search(r"工会 联络员 王芳\s*13900000004", printed), "the receiving unit's contact person and phone"
    assert "13800000106" in household.inner_text("#producer-phone"), "the producer's own phone"
    for text, lines in household.evaluate(LINES_OF, "td.name, .picklist-contacts .name"):
        assert lines == 1, f"{text} takes {lines} lines"
