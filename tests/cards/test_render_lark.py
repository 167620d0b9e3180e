"""Feishu/Lark card JSON 2.0: golden output, the structure rules Feishu enforces, and the limits."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from cards import callback
from cards.build import Viewer, build_card, build_digest
from cards.callback import encode
from cards.model import Button, Card, Field, Link, Tone
from cards.render.lark import CALLBACK_KEY, FORM_INPUTS, escape, render_card, render_digest, size
from gateway.domain import JSONObject, Severity, Status, Verb
from tests.cards import samples
from tests.cards.samples import check_golden, entry

LINK = "https://ackgate.example.com/incidents/42?t=token"
# Feishu's published limit for a card message's body, restated rather than imported.
CARD_MAX_BYTES = 30 * 1024
TAGS = {"markdown", "column_set", "column", "button", "form", "input"}
TEMPLATES = {"red", "orange", "blue", "green", "grey"}


def walk(elements: list[JSONObject], depth: int = 0) -> Iterator[tuple[JSONObject, int]]:
    """Every element with its nesting depth (0 = the card's body)."""
    for element in elements:
        yield element, depth
        for key in ("elements", "columns"):
            if key in element:
                yield from walk(element[key], depth + 1)


def check_card(doc: JSONObject) -> None:
    """The card follows the JSON 2.0 rules ackgate relies on and fits Feishu's limit."""
    assert doc["schema"] == "2.0"
    assert doc["config"]["update_multi"] is True  # without it no copy could be updated
    assert doc["header"]["title"]["tag"] == "plain_text"
    assert doc["header"]["template"] in TEMPLATES
    assert size(doc) <= CARD_MAX_BYTES
    names: list[str] = []
    for element, depth in walk(doc["body"]["elements"]):
        tag = element["tag"]
        assert tag in TAGS, tag
        if "name" in element:
            names.append(element["name"])
        if tag == "form":
            assert depth == 0, "a form may only sit at the card's root"
            inputs = [e for e in element["elements"] if e["tag"] == "input"]
            [submit] = [e for e in element["elements"] if e["tag"] == "button"]
            assert submit["form_action_type"] == "submit"
            assert len(inputs) == 1
            assert 1 <= inputs[0]["max_length"] <= 1000
        if tag == "button":
            [behavior] = element["behaviors"]
            if behavior["type"] == "callback":
                assert set(behavior["value"]) == {CALLBACK_KEY}
                callback.decode(behavior["value"][CALLBACK_KEY])
            else:
                assert behavior["type"] == "open_url"
                assert behavior["default_url"].startswith("https://")
    assert len(names) == len(set(names)), "element names must be unique within a card"


def buttons(doc: JSONObject) -> list[JSONObject]:
    return [e for e, _ in walk(doc["body"]["elements"]) if e["tag"] == "button"]


def markdown(doc: JSONObject) -> list[str]:
    return [e["content"] for e, _ in walk(doc["body"]["elements"]) if e["tag"] == "markdown"]


@pytest.mark.parametrize(
    ("make", "lang"),
    [(samples.triggered, "en"), (samples.acknowledged, "en"), (samples.closed, "zh")],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_golden(make: Callable[[], JSONObject], lang: str) -> None:
    doc = render_card(build_card(make(), Viewer(lang=lang, link=LINK)), lang)
    check_card(doc)
    name = make.__name__ + ("" if lang == "en" else f"-{lang}")
    check_golden(f"lark/{name}.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_buttons_act_at_once_and_forms_ask_first() -> None:
    doc = render_card(build_card(samples.triggered(), Viewer(link=LINK)))
    row, escalate, comment = [e for e in doc["body"]["elements"] if e["tag"] != "markdown"][:3]
    assert [c["elements"][0]["behaviors"][0]["value"] for c in row["columns"]] == [
        {"a": encode(Verb.ACK, 42)},
        {"a": encode(Verb.CLOSE, 42)},
    ]
    assert [c["elements"][0]["type"] for c in row["columns"]] == ["primary", "danger"]
    for form, verb in ((escalate, Verb.ESCALATE), (comment, Verb.COMMENT)):
        field, submit = form["elements"]
        assert field["name"] == FORM_INPUTS[verb]
        assert submit["behaviors"] == [{"type": "callback", "value": {"a": encode(verb, 42)}}]
    assert comment["elements"][0]["required"] is True
    assert escalate["elements"][0]["required"] is False  # empty pages the next level
    links = [b for b in buttons(doc) if b["behaviors"][0]["type"] == "open_url"]
    assert links[0]["behaviors"][0]["default_url"] == LINK


def test_tone_sets_the_header_colour() -> None:
    assert render_card(build_card(samples.triggered()))["header"]["template"] == "red"
    assert render_card(build_card(samples.closed()))["header"]["template"] == "green"
    snoozed = samples.acknowledged()
    snoozed["snoozed_until"] = "2026-03-01T11:00:00Z"
    assert render_card(build_card(snoozed))["header"]["template"] == "grey"


def test_no_buttons_leaves_only_links() -> None:
    doc = render_card(build_card(samples.closed(), Viewer(buttons=frozenset())))
    check_card(doc)
    assert all(b["behaviors"][0]["type"] == "open_url" for b in buttons(doc))
    assert not [e for e in doc["body"]["elements"] if e["tag"] == "form"]


def test_alert_text_cannot_mention_or_link() -> None:
    doc = samples.triggered()
    doc["title"] = "<at id=all></at> down & out"
    doc["description"] = "<at id=all></at> see [this](https://evil.example.com) **now**"
    doc["labels"]["env"] = '<at user_id="ou_1"></at>'
    card = render_card(build_card(doc))
    check_card(card)
    # The header is plain text: shown as written, never parsed.
    assert card["header"]["title"]["content"] == "🔴 #42 <at id=all></at> down & out"
    for content in markdown(card):
        assert "<" not in content
        assert "](" not in content
        assert "[" not in content
    summary = markdown(card)[0]
    assert summary.startswith("&#60;at id=all&#62;&#60;&#47;at&#62; see &#91;this&#93;")
    assert "&#42;&#42;now&#42;&#42;" in summary


def test_escape_covers_the_markdown_syntax() -> None:
    assert escape("a&b") == "a&amp;b"
    assert escape("<at id=all></at>") == "&#60;at id=all&#62;&#60;&#47;at&#62;"
    assert escape("plain words 42") == "plain words 42"


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
    assert len(card["header"]["title"]["content"]) <= 150
    assert [b["name"] for b in buttons(card) if "link" not in b["name"]] == [
        "close",
        "escalate",
        "comment",
    ]


def test_extreme_hand_made_card_is_shrunk_in_order() -> None:
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
    assert size(doc) <= 28_000
    # The timeline went first, then the links after the first; some fields are left.
    assert not [e for e in doc["body"]["elements"] if e.get("text_size") == "notation"]
    urls = [b["behaviors"][0]["default_url"] for b in buttons(doc) if "default_url" in str(b)]
    assert urls == ["https://e.example.com/0?" + "q" * 1_500]
    assert len(buttons(doc)) == len(verbs) + 1
    assert len(doc["config"]["summary"]["content"]) <= 100


def test_a_minimal_card_keeps_header_and_buttons() -> None:
    card = build_card({**samples.triggered(), "alerts": [], "labels": {}, "timeline": []})
    doc = render_card(card)
    check_card(doc)
    assert doc["header"]["subtitle"]["content"] == "Triggered"


def test_render_is_pure() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    assert render_card(card, "zh") == render_card(card, "zh")


def test_placeholders_follow_the_language() -> None:
    doc: Any = render_card(build_card(samples.triggered(), Viewer(lang="zh")), "zh")
    forms = [e for e in doc["body"]["elements"] if e["tag"] == "form"]
    assert forms[1]["elements"][0]["placeholder"]["content"] == "评论内容"


# A digest line's link: the incident's number, then its page.
DIGEST_LINK = re.compile(r"\[#(\d+)\]\((https://[^)\s]+)\)")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_digest_golden(lang: str) -> None:
    doc = render_digest(build_digest(samples.digest_items(), lang, 10))
    check_card(doc)
    check_golden(f"lark/digest-{lang}.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def test_a_digest_links_each_incident_and_shows_titles_as_written() -> None:
    doc = render_digest(build_digest(samples.digest_items(), "en", 10))
    lines, hint = markdown(doc)
    pages = "https://ackgate.example.com/incidents"
    assert DIGEST_LINK.findall(lines) == [("7", f"{pages}/7"), ("8", f"{pages}/8")]
    # Titles are escaped: no tag, mention or link of their own, however they try.
    text = DIGEST_LINK.sub("", lines)
    assert "<" not in text
    assert "[" not in text
    assert "](" not in text
    assert "&#60;at id=all&#62;" in text
    assert lines.splitlines()[2] == "🔵 #9 磁盘使用率过高 on db&#45;1"  # no page: no link
    assert "ack 7" in hint
    assert doc["config"]["summary"]["content"].startswith("3 incidents")


def test_a_full_digest_fits_and_keeps_every_incident() -> None:
    doc = render_digest(build_digest(samples.storm_items(), "en", 10))
    check_card(doc)
    lines = markdown(doc)[0]
    assert [n for n, _ in DIGEST_LINK.findall(lines)] == [str(1000 + n) for n in range(50)]
    assert "磁磁" in lines  # titles cut shorter, not dropped, while that fits
