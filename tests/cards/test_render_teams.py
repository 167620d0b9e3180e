"""Teams Adaptive Cards: golden output, the structure Teams needs for Universal Actions, limits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from cards import callback
from cards.build import Viewer, build_card, build_digest
from cards.callback import encode
from cards.model import Button, Card, Field, Link, Tone
from cards.render.teams import (
    COMMENT_INPUT,
    DATA_KEY,
    INCIDENT_KEY,
    MEMBER_INPUT,
    REFRESH_VERB,
    escape,
    render_card,
    render_digest,
    size,
)
from gateway.domain import JSONObject, Severity, Status, Verb
from tests.cards import samples
from tests.cards.samples import check_golden, entry

LINK = "https://ackgate.example.com/incidents/42?t=token"
MEMBERS = [("alice", "Alice"), ("bob", "Bob")]
# The limits the renderer promises, restated rather than imported: 28 KB per bot message
# (what Workflows webhooks and older clients take), and six actions shown per action set.
CARD_MAX_BYTES = 28 * 1024
ACTIONS_MAX = 6
ELEMENTS = {"Container", "RichTextBlock", "FactSet", "ActionSet", "Input.Text", "Input.ChoiceSet"}
ACTIONS = {"Action.Execute", "Action.ShowCard", "Action.OpenUrl"}


def elements(items: list[JSONObject]) -> Iterator[JSONObject]:
    """Every body element, containers' items included."""
    for item in items:
        yield item
        yield from elements(item.get("items", []))


def actions(doc: JSONObject) -> Iterator[JSONObject]:
    """Every action: the card's, action sets', and those of the cards ShowCards open."""
    for action in doc.get("actions", []):
        yield action
        if action["type"] == "Action.ShowCard":
            yield from actions(action["card"])
            yield from (a for e in elements(action["card"]["body"]) for a in e.get("actions", []))
    for element in elements(doc["body"]):
        yield from element.get("actions", [])


def check_card(doc: JSONObject) -> None:
    """The card is a 1.5 Adaptive Card Teams can act on, and fits the limit."""
    assert doc["type"] == "AdaptiveCard"
    assert doc["version"] == "1.5"  # Action.Execute needs 1.5 in Teams
    assert size(doc) <= CARD_MAX_BYTES
    assert len(json.dumps(doc, ensure_ascii=False).encode()) >= size(doc)
    assert len(doc.get("actions", [])) <= ACTIONS_MAX
    ids: list[str] = []
    cards = [doc, *(a["card"] for a in doc.get("actions", []) if a["type"] == "Action.ShowCard")]
    for card in cards:
        for element in elements(card["body"]):
            assert element["type"] in ELEMENTS, element["type"]
            if "id" in element:
                ids.append(element["id"])
            if element["type"] == "RichTextBlock":
                assert all(i["type"] == "TextRun" for i in element["inlines"])
            if element["type"] == "ActionSet":
                assert len(element["actions"]) <= ACTIONS_MAX
    assert len(ids) == len(set(ids)), "input ids must be unique within a card"
    for action in actions(doc):
        assert action["type"] in ACTIONS, action["type"]
        assert action["title"]
        if action["type"] == "Action.Execute":
            assert set(action["data"]) == {DATA_KEY}
            verb, _number = callback.decode(action["data"][DATA_KEY])
            assert action["verb"] == verb.value
            fallback = action["fallback"]
            assert fallback["type"] == "Action.Submit"
            assert fallback["data"] == action["data"]
        elif action["type"] == "Action.OpenUrl":
            assert action["url"].startswith("https://")


@pytest.mark.parametrize(
    ("make", "lang"),
    [(samples.triggered, "en"), (samples.acknowledged, "en"), (samples.closed, "zh")],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_golden(make: Callable[[], JSONObject], lang: str) -> None:
    doc = render_card(build_card(make(), Viewer(lang=lang, link=LINK)), lang, members=MEMBERS)
    check_card(doc)
    name = make.__name__ + ("" if lang == "en" else f"-{lang}")
    check_golden(f"teams/{name}.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_verbs_are_universal_actions_and_inputs_sit_in_show_cards() -> None:
    doc = render_card(build_card(samples.triggered(), Viewer(link=LINK)), members=MEMBERS)
    ack, close, escalate, comment = doc["actions"]
    assert (ack["type"], ack["verb"], ack["data"], ack["style"]) == (
        "Action.Execute",
        "ack",
        {DATA_KEY: encode(Verb.ACK, 42)},
        "positive",
    )
    assert (close["verb"], close["style"]) == ("close", "destructive")
    for show, verb, field in ((escalate, Verb.ESCALATE, MEMBER_INPUT), (comment, Verb.COMMENT, "")):
        assert show["type"] == "Action.ShowCard"
        [submit] = show["card"]["actions"]
        assert (submit["verb"], submit["data"]) == (verb.value, {DATA_KEY: encode(verb, 42)})
        [box] = show["card"]["body"]
        assert box["id"] == (field or COMMENT_INPUT)
    [choices] = escalate["card"]["body"]
    assert choices["type"] == "Input.ChoiceSet"
    assert choices["choices"] == [
        {"title": "Alice", "value": "alice"},
        {"title": "Bob", "value": "bob"},
    ]
    assert not choices.get("isRequired")  # nobody chosen: the next level is paged
    [box] = comment["card"]["body"]
    assert (box["type"], box["isRequired"], box["maxLength"]) == ("Input.Text", True, 4000)


def test_without_members_escalate_asks_for_a_name() -> None:
    doc = render_card(build_card(samples.acknowledged()))
    [escalate] = [a for a in doc["actions"] if a["title"] == "Escalate"]
    [box] = escalate["card"]["body"]
    assert (box["type"], box["id"]) == ("Input.Text", MEMBER_INPUT)


def test_refresh_is_manual_and_names_the_incident() -> None:
    doc = render_card(build_card(samples.acknowledged()), refresh=True)
    assert doc["refresh"] == {
        "action": {"type": "Action.Execute", "verb": REFRESH_VERB, "data": {INCIDENT_KEY: 42}},
        "userIds": [],  # no client refreshes by itself: no storm of invokes in a big channel
    }
    assert "refresh" not in render_card(build_card(samples.acknowledged()))


def test_no_buttons_no_actions() -> None:
    doc = render_card(build_card(samples.closed(), Viewer(buttons=frozenset())))
    check_card(doc)
    assert "actions" not in doc
    [links] = [e for e in doc["body"] if e["type"] == "ActionSet"]
    assert all(a["type"] == "Action.OpenUrl" for a in links["actions"])


def test_alert_text_cannot_format_or_link() -> None:
    doc = samples.triggered()
    doc["title"] = "**urgent** [click](https://evil.example.com)"
    doc["description"] = "<at>everyone</at> see [this](https://evil.example.com)"
    doc["labels"]["env"] = "[prod](https://evil.example.com) *bold* `code` \\"
    card = render_card(build_card(doc))
    header = card["body"][0]["items"][0]["inlines"][0]
    # TextRuns are never read as Markdown: shown exactly as written.
    assert header["text"] == "🔴 #42 **urgent** [click](https://evil.example.com)"
    assert card["body"][1]["inlines"][0]["text"] == doc["description"]
    [facts] = [e for e in card["body"] if e["type"] == "FactSet"]
    env = next(f for f in facts["facts"] if f["title"] == "env")
    assert env["value"] == "\\[prod\\](https://evil.example.com) \\*bold\\* \\`code\\` \\\\"
    assert escape("a_b-c.d") == "a_b-c.d"  # what Markdown leaves alone stays readable


def test_huge_incident_fits() -> None:
    doc = samples.acknowledged()
    doc["title"] = "T" * 2_000
    doc["description"] = "d" * 10_000
    doc["labels"] = {f"label{i:02}": "v" * 1_000 for i in range(40)}
    doc["assignees"] = [f"member{i}" for i in range(200)]
    doc["alerts"] = [
        {
            **doc["alerts"][0],
            "details": {"runbook_url": f"https://r.example.com/{i}?" + "q" * 1_500},
            "source_url": f"https://s.example.com/{i}",
        }
        for i in range(40)
    ]
    doc["timeline"] = [
        entry("2026-03-01T10:02:00Z", "commented", "m" * 500, "s" * 500) for _ in range(40)
    ]
    members = [(f"member{i}", "名" * 200) for i in range(500)]
    card = render_card(build_card(doc, Viewer(link=LINK)), members=members)
    check_card(card)
    [escalate] = [a for a in card["actions"] if a["title"] == "Escalate"]
    assert 0 < len(escalate["card"]["body"][0]["choices"]) <= 100


def test_extreme_hand_made_card_fits() -> None:
    verbs = list(Verb)
    card = Card(
        incident=7,
        title="#7 " + "t" * 5_000,
        severity=Severity.WARNING,
        tone=Tone.WARNING,
        emoji="🟠",
        status=Status.TRIGGERED,
        status_line="s" * 4_000,
        summary="界" * 30_000,
        fields=tuple(Field("l" * 3_000, "v" * 3_000) for _ in range(100)),
        links=(
            Link("too long", "https://e.example.com/" + "x" * 3_000),
            *(Link("k" * 100, f"https://e.example.com/{i}") for i in range(40)),
        ),
        buttons=tuple(
            Button(verbs[i % len(verbs)], "b" * 100, encode(verbs[i % len(verbs)], 7))
            for i in range(12)
        ),
        timeline=tuple("e" * 1_000 for _ in range(50)),
        fallback="f" * 50_000,
    )
    doc = render_card(card, members=[(f"m{i}", "x" * 1_000) for i in range(1_000)])
    check_card(doc)
    assert len(doc["actions"]) == ACTIONS_MAX
    urls = [a["url"] for a in actions(doc) if a["type"] == "Action.OpenUrl"]
    assert urls[0] == "https://e.example.com/0"  # the over-long link is left out


def test_render_is_pure() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    assert render_card(card, "zh", members=MEMBERS) == render_card(card, "zh", members=MEMBERS)


def digest_lines(doc: JSONObject) -> list[JSONObject]:
    """A digest's incident lines: RichTextBlocks of an emoji and the incident's TextRun."""
    return list(doc["body"][1:-1])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_digest_golden(lang: str) -> None:
    doc = render_digest(build_digest(samples.digest_items(), lang, 10))
    check_card(doc)
    check_golden(f"teams/digest-{lang}.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_a_digest_links_each_incident_and_shows_titles_as_written() -> None:
    items = samples.digest_items()
    doc = render_digest(build_digest(items, "en", 10))
    assert "actions" not in doc  # each incident is acted on from its page
    runs = [line["inlines"][1] for line in digest_lines(doc)]
    # TextRuns are never read as Markdown: shown exactly as written.
    assert [r["text"] for r in runs] == [f"#{i['number']} {i['title']}" for i in items]
    opened = [r.get("selectAction", {}).get("url") for r in runs]
    assert opened == [items[0]["url"], items[1]["url"], None]
    assert all(r["selectAction"]["type"] == "Action.OpenUrl" for r in runs[:2])
    hint = doc["body"][-1]["inlines"]
    assert [r["text"] for r in hint if r.get("fontType") == "Monospace"] == ["ack 7"]


def test_a_full_digest_fits_and_keeps_every_incident() -> None:
    doc = render_digest(build_digest(samples.storm_items(), "en", 10))
    check_card(doc)
    runs = [line["inlines"][1]["text"] for line in digest_lines(doc)]
    assert [r.split()[0] for r in runs] == [f"#{1000 + n}" for n in range(50)]
