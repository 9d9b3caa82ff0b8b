"""The Chinese catalogue reads natively: no half-width , : ; ( ) ! ? next to Chinese text."""

import re

from babel.messages.pofile import read_po

# Kept as they are: placeholders, URLs, markup, and numbers such as 10:30 or 1,000.
PROTECTED = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[sdifr]|%[sd]|https?://\S+|<[^>]+>|\d[:,.]\d|\{[^}]*\}")
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef“”‘’「」《》]")
HALF_WIDTH = re.compile(r"[,:;()!?]")


def half_width_marks(text) -> list[str]:
    """Each half-width mark with Chinese (or a placeholder inside a Chinese sentence) on either side, in context."""
    if not CHINESE.search(text):
        return []
    work = PROTECTED.sub("\x00", text)
    found = []
    for match in HALF_WIDTH.finditer(work):
        before, after = work[: match.start()].rstrip(" ")[-1:], work[match.end() :].lstrip(" ")[:1]
        if any(ch and (CHINESE.match(ch) or ch == "\x00") for ch in (before, after)):
            found.append(work[max(match.start() - 6, 0) : match.end() + 6].replace("\x00", "…"))
    return found


def test_the_rule_finds_what_a_reader_would_see():
    assert half_width_marks("已登记,等待审核") == ["已登记,等待审核"]
    assert half_width_marks("配送日期: %(date)s") == ["配送日期: …"]
    assert half_width_marks("%(name)s(%(town)s)登记") != []
    assert half_width_marks("10:30 截止，共 1,000 只") == []
    assert half_width_marks("请发送 JSON（Content-Type: application/json）。") == []
    assert half_width_marks("见 https://pinbang.example/c/abc?x=1") == []
    assert half_width_marks("Order placed: 3 items") == []


def test_the_chinese_catalogue_has_only_full_width_punctuation_in_chinese_sentences():
    with open("translations/zh_Hans_CN/LC_MESSAGES/messages.po", "rb") as f:
        catalogue = read_po(f, locale="zh_Hans_CN")
    offending = {}
    for message in catalogue:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            if text and (marks := half_width_marks(text)):
                offending[message.id if isinstance(message.id, str) else message.id[0]] = marks
    assert offending == {}
