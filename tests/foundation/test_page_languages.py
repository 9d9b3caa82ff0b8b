"""A Chinese page shows no English that has a translation, an English page no Chinese that has one, and no page
shows internal codes (``producer.create``) where words belong."""

import re
from html.parser import HTMLParser

import pytest
from babel.messages.pofile import read_po

from extensions import db
from factories import make_listing, make_pooling_campaign, make_pooling_people, make_producer, make_user
from fulfilment import closing
from producers.review import approve_listing

CODE = re.compile(r"\b(producer|listing|campaign|order|picklist|delivery|unit|user)\.[a-z_.]+\b")
CHINESE = re.compile(r"[\u3400-\u9fff]")


class _Text(HTMLParser):
    """The text a reader sees: text nodes outside script and style, and the placeholders and labels of inputs."""

    def __init__(self):
        super().__init__()
        self.texts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "aria-label", "title") and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def _visible(html) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.texts


@pytest.fixture(scope="module")
def catalogue():
    with open("translations/zh_Hans_CN/LC_MESSAGES/messages.po", "rb") as f:
        messages = [m for m in read_po(f, locale="zh_Hans_CN") if m.id and isinstance(m.id, str) and m.string]
    # Only whole sentences and words that have their own translation: a one-letter msgid may be a unit or a symbol.
    english = {m.id for m in messages if m.string != m.id and "%" not in m.id and len(m.id) > 2 and m.id.lower() != m.id.upper()}
    chinese = {m.string for m in messages if CHINESE.search(m.string) and "%" not in m.string and len(m.string) > 1}
    chinese.discard("拼帮")  # the brand shows in both languages beside "Pinbang"
    return english, chinese


@pytest.fixture
def story(app):
    people = make_pooling_people()
    s = make_pooling_campaign(people)
    closing.close_campaign(s.campaign.id)
    operator = make_user(role="operator", name="运营")
    producer = make_producer(name="黄圃镇姜农")
    listing = make_listing(producer, name="天堂姜", unit="斤", status="pending")
    db.session.commit()
    approve_listing(operator, listing)
    return people, s, operator, producer


def _pages(people, s, producer):
    c = s.campaign.id
    return {
        "operator": [
            "/dashboard/",
            "/dashboard/sales",
            "/campaigns",
            f"/campaigns/{c}/manage",
            "/fulfilment/",
            f"/fulfilment/campaigns/{c}",
            f"/dashboard/campaigns/{c}/settlement",
            f"/dashboard/campaigns/{c}/delivery",
            "/producers/registry",
            f"/producers/registry/{producer.id}",
            "/producers/review",
            "/notifications/failed",
            "/accounts/users",
        ],
        "coordinator": ["/units/", f"/units/campaigns/{c}", f"/units/campaigns/{c}/distribution"],
        "buyer": ["/orders/", f"/c/{s.campaign.slug}"],
    }


def _render(client, auth, who, path, language):
    client.post(f"/accounts/logout?lang={language}")  # what it flashes is shown on the next page, in this language
    auth.login(who.phone)
    joiner = "&" if "?" in path else "?"
    response = client.get(f"{path}{joiner}lang={language}")
    assert response.status_code == 200, path
    return _visible(response.get_data(as_text=True))


def test_chinese_pages_show_no_english_that_has_a_translation_and_no_codes(story, client, auth, catalogue):
    people, s, operator, producer = story
    english, _chinese = catalogue
    users = {"operator": operator, "coordinator": people.chen, "buyer": people.wang}
    found = {}
    for role, paths in _pages(people, s, producer).items():
        for path in paths:
            texts = _render(client, auth, users[role], path, "zh_CN")
            bad = sorted({t for t in texts if t in english} | {m.group(0) for t in texts for m in CODE.finditer(t)})
            if bad:
                found[path] = bad
    assert found == {}


def test_english_pages_show_no_chinese_that_has_a_translation(story, client, auth, catalogue):
    people, s, operator, producer = story
    _english, chinese = catalogue
    users = {"operator": operator, "coordinator": people.chen, "buyer": people.wang}
    found = {}
    for role, paths in _pages(people, s, producer).items():
        for path in paths:
            bad = sorted({t for t in _render(client, auth, users[role], path, "en") if t in chinese})
            if bad:
                found[path] = bad
    assert found == {}
