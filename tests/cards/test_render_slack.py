"""Slack Block Kit: golden output, slack_sdk's own validation, and the published limits."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from cards.build import Viewer, build_card
from cards.callback import encode
from cards.model import Button, Card, Field, Link, Tone
from cards.render.slack import render_blocks, render_message
from gateway.domain import JSONObject, Severity, Status, Verb
from tests.cards import samples
from tests.cards.samples import check_golden, entry

LINK = "https://ackgate.example.com/incidents/42?t=token"

# Slack's published limits (docs/platforms, section 1), restated here rather than imported.
MAX_BLOCKS = 50
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
ACTION_ID_MAX = 255
URL_MAX = 3000
# The undocumented msg_blocks_too_long error starts near 13k characters of block text: the
# builder's budgets keep any card it makes well below (a hand-made Card may go further).
TOTAL_TEXT_MAX = 12_000


def check_limits(blocks: list[JSONObject]) -> None:
    """Every block parses with slack_sdk, survives its validators unchanged, and fits the limits."""
    assert 0 < len(blocks) <= MAX_BLOCKS
    action_ids: list[str] = []
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None, block
        assert parsed.to_dict() == block  # to_dict() runs the validators; nothing dropped
        kind = block["type"]
        if kind == "header":
            assert len(block["text"]["text"]) <= HEADER_TEXT_MAX
        elif kind == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert len(block["text"]["text"]) <= SECTION_TEXT_MAX
            fields = block.get("fields", [])
            assert len(fields) <= SECTION_FIELDS_MAX
            assert all(len(f["text"]) <= FIELD_TEXT_MAX for f in fields)
        elif kind == "context":
            assert len(block["elements"]) <= CONTEXT_ELEMENTS_MAX
            assert all(len(e["text"]) <= SECTION_TEXT_MAX for e in block["elements"])
        elif kind == "actions":
            assert len(block["elements"]) <= ACTIONS_ELEMENTS_MAX
            for button in block["elements"]:
                assert button["type"] == "button"
                assert len(button["text"]["text"]) <= BUTTON_TEXT_MAX
                assert len(button["action_id"]) <= ACTION_ID_MAX
                assert len(button.get("value", "")) <= BUTTON_VALUE_MAX
                assert len(button.get("url", "")) <= URL_MAX
                action_ids.append(button["action_id"])
        else:
            pytest.fail(f"unexpected block type {kind}")
    assert len(action_ids) == len(set(action_ids))


def texts(value: Any) -> list[str]:
    """Every ``text`` string anywhere in ``value``."""
    if isinstance(value, dict):
        found = [value["text"]] if isinstance(value.get("text"), str) else []
        return found + [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


def buttons_of(blocks: list[JSONObject]) -> list[JSONObject]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


@pytest.mark.parametrize(
    "make", [samples.triggered, samples.acknowledged, samples.closed], ids=lambda f: f.__name__
)
def test_golden(make: Callable[[], JSONObject], caplog: pytest.LogCaptureFixture) -> None:
    message = render_message(build_card(make(), Viewer(link=LINK)))
    with caplog.at_level(logging.WARNING, logger="slack_sdk"):
        check_limits(message["blocks"])
    assert not caplog.records, "slack_sdk warned about unknown keys"
    assert set(message) == {"text", "blocks"}
    check_golden(f"{make.__name__}.json", json.dumps(message, indent=2, ensure_ascii=False) + "\n")


def test_buttons_carry_verb_and_callback() -> None:
    card = build_card(samples.triggered(), Viewer(link=LINK))
    verbs, links = [b for b in render_blocks(card) if b["type"] == "actions"]
    assert [(e["action_id"], e["value"], e.get("style")) for e in verbs["elements"]] == [
        ("ackgate:ack", encode(Verb.ACK, 42), "primary"),
        ("ackgate:close", encode(Verb.CLOSE, 42), "danger"),
        ("ackgate:escalate", encode(Verb.ESCALATE, 42), None),
        ("ackgate:comment", encode(Verb.COMMENT, 42), None),
    ]
    assert [(e["text"]["text"], e["url"]) for e in links["elements"]] == [
        (link.label, link.url) for link in card.links
    ]
    assert all(e["action_id"].startswith("ackgate-link:") for e in links["elements"])
    assert all("value" not in e for e in links["elements"])


def test_no_buttons_no_actions_block() -> None:
    card = build_card(samples.closed(), Viewer(buttons=frozenset()))
    blocks = render_blocks(card)
    # The alert links remain; the verb row is gone.
    assert [b for b in blocks if b["type"] == "actions"] == [
        {"type": "actions", "elements": buttons_of(blocks)}
    ]
    assert all(e["action_id"].startswith("ackgate-link:") for e in buttons_of(blocks))


def test_alert_text_cannot_mention_anyone() -> None:
    doc = samples.triggered()
    doc["title"] = "<!channel> down & out"
    doc["description"] = "<!here> see <https://evil.example.com|this> & <@U123>"
    doc["labels"]["env"] = "<!subteam^S1>"
    message = render_message(build_card(doc))
    blocks = message["blocks"]
    assert message["text"] == "🔴 #42 &lt;!channel&gt; down &amp; out — Triggered"
    assert blocks[0]["text"]["text"] == "🔴 #42 <!channel> down & out"  # plain text: not parsed
    assert blocks[2]["text"]["text"] == (
        "&lt;!here&gt; see &lt;https://evil.example.com|this&gt; &amp; &lt;@U123&gt;"
    )
    mrkdwn = [t for b in blocks[1:] for t in texts(b)]
    assert not any("<" in t or ">" in t for t in mrkdwn)


def test_huge_incident_fits() -> None:
    doc = samples.acknowledged()
    doc["title"] = "T" * 2_000
    doc["description"] = "&<>" * 3_334  # 10,002 characters that each grow when escaped
    doc["labels"] = {f"label{i:02}": "v&" * 1_000 for i in range(40)}
    doc["assignees"] = [f"member{i}" for i in range(200)]
    doc["alerts"] = [
        {
            **doc["alerts"][0],
            "details": {"runbook_url": f"https://r.example.com/{i}?" + "q" * 2_500},
            "source_url": f"https://s.example.com/{i}",
        }
        for i in range(40)
    ]
    doc["timeline"] = [
        entry("2026-03-01T10:02:00Z", "commented", "m" * 500, "s" * 500) for _ in range(40)
    ]
    blocks = render_blocks(build_card(doc, Viewer(link=LINK)))
    check_limits(blocks)
    assert sum(len(text) for text in texts(blocks)) <= TOTAL_TEXT_MAX
    assert blocks[2]["text"]["text"].endswith("…")


def test_extreme_hand_made_card_fits() -> None:
    verbs = list(Verb)
    card = Card(
        incident=7,
        title="#7 " + "t" * 500,
        severity=Severity.WARNING,
        tone=Tone.WARNING,
        emoji="🟠",
        status=Status.TRIGGERED,
        status_line="s" * 4_000,
        summary="&" * 10_000,
        fields=tuple(Field("l" * 3_000, "v" * 3_000, short=i % 3 != 0) for i in range(100)),
        links=(
            Link("too long", "https://e.example.com/" + "x" * 3_000),
            *(Link("k" * 100, f"https://e.example.com/{i}") for i in range(40)),
        ),
        buttons=tuple(
            Button(verbs[i % len(verbs)], "b" * 100, encode(verbs[i % len(verbs)], 7))
            for i in range(8)
        ),
        timeline=tuple("e" * 1_000 for _ in range(10)),
        fallback="f" * 50_000,
    )
    message = render_message(card)
    check_limits(message["blocks"])
    assert len(message["text"]) <= 40_000
    summary = message["blocks"][2]["text"]["text"]
    assert summary.endswith("&amp;…")  # cut between entities, never inside one
    urls = [e["url"] for e in buttons_of(message["blocks"]) if "url" in e]
    assert urls == [f"https://e.example.com/{i}" for i in range(25)]  # the overlong one is left out


def test_render_is_pure() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    assert render_message(card) == render_message(card)
