"""DingTalk StandardCard ``cardData``: golden output, the structure the card takes, defused
markdown, and the size budget."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from cards import callback
from cards.build import Viewer, build_card, build_digest
from cards.callback import encode
from cards.model import Button, Card, Field, Link, Tone
from cards.render.dingtalk import card_data, escape, render_card, render_digest, size
from gateway.domain import JSONObject, Severity, Status, Verb
from tests.cards import samples
from tests.cards.samples import check_golden, entry

LINK = "https://ackgate.example.com/incidents/42?t=token"
ZWSP = "\u200b"
CARD_MAX_BYTES = 20_000  # the robot API's request budget, restated rather than imported
TYPES = {"markdown", "divider", "action"}
STATUSES = {"primary", "warning", "normal"}
# What would be markdown syntax in DingTalk's renderer if it reached it intact.
LINK_SYNTAX = re.compile(r"\]\(|!\[|<[A-Za-z/!]|&[#A-Za-z]")


def buttons(doc: JSONObject) -> Iterator[JSONObject]:
    for element in doc["contents"]:
        if element["type"] == "action":
            yield from element["actions"]


def markdown(doc: JSONObject) -> list[str]:
    return [e["text"] for e in doc["contents"] if e["type"] == "markdown"]


def check_card(doc: JSONObject) -> None:
    """The card has the StandardCard shape ackgate relies on and fits the budget."""
    assert set(doc) == {"config", "header", "contents"}
    assert doc["config"]["enableForward"] is False
    assert doc["header"]["title"]["type"] == "text"
    assert doc["header"]["title"]["text"]
    assert size(doc) <= CARD_MAX_BYTES
    ids = [e["id"] for e in doc["contents"]] + [b["id"] for b in buttons(doc)]
    assert len(ids) == len(set(ids)), "element ids must be unique within a card"
    for element in doc["contents"]:
        assert element["type"] in TYPES, element["type"]
        if element["type"] == "markdown":
            assert not LINK_SYNTAX.search(element["text"].replace("](https://", "")), element
    for button in buttons(doc):
        assert button["type"] == "button"
        assert button["label"]["type"] == "text"
        assert button["status"] in STATUSES
        if button["actionType"] == "request":
            callback.decode(button["id"])
        else:
            assert button["actionType"] == "openLink"
            assert button["url"]["all"].startswith("https://")


@pytest.mark.parametrize(
    ("make", "lang"),
    [(samples.triggered, "en"), (samples.acknowledged, "en"), (samples.closed, "zh")],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_golden(make: Callable[[], JSONObject], lang: str) -> None:
    doc = render_card(build_card(make(), Viewer(lang=lang, link=LINK)))
    check_card(doc)
    name = make.__name__ + ("" if lang == "en" else f"-{lang}")
    text = json.dumps(doc, indent=2, ensure_ascii=False).replace(ZWSP, "\\u200b") + "\n"
    check_golden(f"dingtalk/{name}.json", text)


def test_verb_buttons_carry_the_callback_data_and_links_open_pages() -> None:
    card = build_card(samples.triggered(), Viewer(link=LINK))
    doc = render_card(card)
    verbs = [b for b in buttons(doc) if b["actionType"] == "request"]
    assert [(b["label"]["text"], b["id"], b["status"]) for b in verbs] == [
        ("Acknowledge", encode(Verb.ACK, 42), "primary"),
        ("Close", encode(Verb.CLOSE, 42), "warning"),
        ("Escalate", encode(Verb.ESCALATE, 42), "normal"),
        ("Add comment", encode(Verb.COMMENT, 42), "normal"),
    ]
    links = [b for b in buttons(doc) if b["actionType"] == "openLink"]
    assert [b["url"]["all"] for b in links] == [link.url for link in card.links]
    assert links[0]["url"]["all"] == LINK


def test_the_status_line_leads_in_bold() -> None:
    doc = render_card(build_card(samples.acknowledged()))
    first = doc["contents"][0]
    assert first["id"] == "status"
    assert first["text"].replace(ZWSP, "").startswith("**Acknowledged by alice")


def test_closed_cards_offer_reopen() -> None:
    doc = render_card(build_card(samples.closed(), Viewer(lang="zh")))
    check_card(doc)
    assert doc["header"]["title"]["text"].startswith("✅ #42")
    verbs = [b["id"] for b in buttons(doc) if b["actionType"] == "request"]
    assert verbs == [encode(Verb.REOPEN, 42), encode(Verb.COMMENT, 42)]


def test_no_buttons_leaves_only_links() -> None:
    doc = render_card(build_card(samples.closed(), Viewer(buttons=frozenset(), link=LINK)))
    check_card(doc)
    assert all(b["actionType"] == "openLink" for b in buttons(doc))
    assert "actions" not in [e["id"] for e in doc["contents"]]


def test_alert_text_cannot_link_style_or_mention() -> None:
    doc = samples.triggered()
    doc["title"] = "[pay](https://evil.example.com) <font color=red>down</font>"
    doc["description"] = (
        "# Heading\nsee [this](https://evil.example.com) ![x](https://evil.example.com/i.png)"
        " &lt;b&gt; `code` @all"
    )
    doc["labels"]["env"] = "<a href='https://evil.example.com'>prod</a>"
    card = render_card(build_card(doc))
    check_card(card)
    # The header is plain text: shown as written, never parsed.
    assert card["header"]["title"]["text"] == f"🔴 #42 {doc['title']}"
    for text in markdown(card):
        assert "](" not in text
        assert "<f" not in text
        assert "<a" not in text
        assert "&l" not in text
    summary = next(e["text"] for e in card["contents"] if e["id"] == "summary")
    # Nothing is lost: without the zero-width spaces it reads exactly as written.
    assert summary.replace(ZWSP, "") == doc["description"].replace("\n", "\n\n")


def test_escape_keeps_plain_words_as_they_are() -> None:
    assert escape("checkout-api 5xx ratio 5%") == "checkout-api 5xx ratio 5%"
    assert escape("a\nb") == "a b"
    assert escape("[x](y)") == f"[{ZWSP}x]{ZWSP}(y)"


def test_huge_incident_fits() -> None:
    doc = samples.acknowledged()
    doc["title"] = "T" * 2_000
    doc["description"] = "&<>" * 3_334
    doc["labels"] = {f"label{i:02}": "v&" * 1_000 for i in range(40)}
    doc["assignees"] = [f"member{i}" for i in range(200)]
    doc["alerts"] = [
        {
            **doc["alerts"][0],
            "details": {"runbook_url": f"https://r.example.com/{i}?" + "q" * 1_900},
            "source_url": f"https://s.example.com/{i}",
        }
        for i in range(40)
    ]
    doc["timeline"] = [
        entry("2026-03-01T10:02:00Z", "commented", "m" * 500, "s" * 500) for _ in range(40)
    ]
    card = render_card(build_card(doc, Viewer(link=LINK)))
    check_card(card)
    assert len(card["header"]["title"]["text"]) <= 150
    assert [b["id"] for b in buttons(card) if b["actionType"] == "request"] == [
        encode(Verb.CLOSE, 42),
        encode(Verb.ESCALATE, 42),
        encode(Verb.COMMENT, 42),
    ]


def test_an_extreme_hand_made_card_is_shrunk_in_order() -> None:
    verbs = [Verb.ACK, Verb.CLOSE, Verb.ESCALATE, Verb.COMMENT]
    card = Card(
        incident=7,
        title="#7 " + "t" * 500,
        severity=Severity.WARNING,
        tone=Tone.WARNING,
        emoji="🟠",
        status=Status.TRIGGERED,
        status_line="s" * 4_000,
        summary="*" * 10_000,
        fields=tuple(Field("l" * 3_000, "<" * 3_000) for _ in range(100)),
        links=(
            Link("too long", "https://e.example.com/" + "x" * 3_000),
            *(Link("k" * 100, f"https://e.example.com/{i}?" + "q" * 1_500) for i in range(40)),
        ),
        buttons=tuple(Button(v, "b" * 100, encode(v, 7)) for v in verbs),
        timeline=tuple("e" * 1_000 for _ in range(10)),
        fallback="f" * 50_000,
    )
    doc = render_card(card)
    check_card(doc)
    assert size(doc) <= 18_000
    ids = [e["id"] for e in doc["contents"]]
    # The timeline went first, then the links after the first; some fields are left.
    assert "timeline" not in ids
    assert "fields" in ids
    urls = [b["url"]["all"] for b in buttons(doc) if b["actionType"] == "openLink"]
    assert urls == ["https://e.example.com/0?" + "q" * 1_500]
    assert len([b for b in buttons(doc) if b["actionType"] == "request"]) == len(verbs)


def test_a_minimal_card_keeps_header_status_and_buttons() -> None:
    card = build_card({**samples.triggered(), "alerts": [], "labels": {}, "timeline": []})
    doc = render_card(card)
    check_card(doc)
    assert doc["contents"][0]["text"] == "**Triggered**"


def test_card_data_is_the_json_string_the_api_takes() -> None:
    doc = render_card(build_card(samples.triggered()))
    assert json.loads(card_data(doc)) == doc


def test_render_is_pure() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    assert render_card(card) == render_card(card)


def test_long_callback_data_is_refused() -> None:
    card = build_card(samples.triggered())
    bad = Button(Verb.ACK, "Ack", "v1:ack:" + "9" * 80)
    with pytest.raises(ValueError, match="callback data"):
        render_card(replace(card, buttons=(bad,)))


# A digest line's link: the incident's number, then its page.
DIGEST_LINK = re.compile(r"\[#(\d+)\]\((https://[^)\s]+)\)")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_digest_golden(lang: str) -> None:
    doc = render_digest(build_digest(samples.digest_items(), lang, 10))
    check_card(doc)
    text = json.dumps(doc, indent=2, ensure_ascii=False).replace(ZWSP, "\\u200b") + "\n"
    check_golden(f"dingtalk/digest-{lang}.json", text)


def test_a_digest_links_each_incident_and_shows_titles_as_written() -> None:
    items = samples.digest_items()
    doc = render_digest(build_digest(items, "en", 10))
    lines, hint = markdown(doc)
    pages = "https://ackgate.example.com/incidents"
    assert DIGEST_LINK.findall(lines) == [("7", f"{pages}/7"), ("8", f"{pages}/8")]
    assert not list(buttons(doc))  # each incident is acted on from its page
    # Defused, yet it reads exactly as written.
    second = lines.splitlines()[1]
    assert second.replace(ZWSP, "") == f"- 🟠 [#8]({pages}/8) {items[1]['title']}"
    assert lines.splitlines()[2] == "- 🔵 #9 磁盘使用率过高 on db-1"  # no page: no link
    assert "ack 7" in hint.replace(ZWSP, "")


def test_a_full_digest_fits_and_keeps_every_incident() -> None:
    doc = render_digest(build_digest(samples.storm_items(), "en", 10))
    check_card(doc)
    lines = markdown(doc)[0]
    assert [n for n, _ in DIGEST_LINK.findall(lines)] == [str(1000 + n) for n in range(50)]
    assert "磁磁" in lines  # titles cut shorter, not dropped, while that fits
