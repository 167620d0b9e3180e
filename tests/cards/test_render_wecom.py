"""WeCom ``button_interaction`` template cards: golden output, task ids and button keys, and
the limits WeCom documents for the card."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable

import pytest

from cards.build import Viewer, build_card
from cards.callback import encode
from cards.model import Button, Card, Field, Link, Tone
from cards.render.wecom import read_key, refresh_key, render_card, task_id
from gateway.domain import JSONObject, Severity, Status, Verb
from gateway.errors import MalformedPayload
from tests.cards import samples
from tests.cards.samples import check_golden

LINK = "https://ackgate.example.com/incidents/42?t=token"
TASK = "ackgate-42-17-0f1e2d3c4b5a"
# WeCom's documented limits (docs/platforms, section 3; WC 90236), restated here.
TASK_ID = re.compile(r"[0-9A-Za-z_\-@]{1,128}")
TITLE_MAX = 36
DESC_MAX = 44
SUB_TITLE_MAX = 160
HORIZONTAL_MAX = 6
BUTTONS_MAX = 6
KEY_MAX_BYTES = 1024
TEMPLATE_LINES_MAX = 8


def check_limits(doc: JSONObject) -> None:
    assert doc["card_type"] == "button_interaction"
    assert TASK_ID.fullmatch(doc["task_id"])
    assert 0 < len(doc["main_title"]["title"]) <= TITLE_MAX
    assert len(doc["main_title"]["desc"]) <= DESC_MAX
    assert doc["source"]["desc_color"] in (0, 1, 2, 3)
    sub_title = doc.get("sub_title_text", "")
    assert len(sub_title) <= SUB_TITLE_MAX
    fields = doc.get("horizontal_content_list", [])
    assert len(fields) <= HORIZONTAL_MAX
    lines = (sub_title.count("\n") + 1 if sub_title else 0) + len(fields)
    assert lines <= TEMPLATE_LINES_MAX
    buttons = doc["button_list"]
    assert 1 <= len(buttons) <= BUTTONS_MAX
    keys = [b["key"] for b in buttons if b["type"] == 0]
    assert len(keys) == len(set(keys))
    for button in buttons:
        assert button["text"]
        assert button["style"] in (1, 2, 3, 4)
        if button["type"] == 0:
            assert 1 <= len(button["key"].encode()) <= KEY_MAX_BYTES
            read_key(button["key"])  # every key is one of ours
        else:
            assert button["url"].startswith(("https://", "http://"))
    if "card_action" in doc:
        assert doc["card_action"]["type"] == 1


@pytest.mark.parametrize(
    ("make", "lang"),
    [
        (samples.triggered, "en"),
        (samples.acknowledged, "en"),
        (samples.closed, "en"),
        (samples.closed, "zh"),
    ],
)
def test_golden(make: Callable[[], JSONObject], lang: str) -> None:
    doc = render_card(build_card(make(), Viewer(lang=lang, link=LINK)), TASK, lang)
    check_limits(doc)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    check_golden(f"wecom/{make.__name__}-{lang}.json", text)


def test_verb_buttons_then_refresh_then_links() -> None:
    card = build_card(samples.triggered(), Viewer(link=LINK))
    doc = render_card(card, TASK)
    buttons = doc["button_list"]
    assert [(b["text"], b.get("key")) for b in buttons[:5]] == [
        ("Acknowledge", encode(Verb.ACK, 42)),
        ("Close", encode(Verb.CLOSE, 42)),
        ("Escalate", encode(Verb.ESCALATE, 42)),
        ("Add comment", encode(Verb.COMMENT, 42)),
        ("Refresh", "v1:refresh:42"),
    ]
    [runbook] = buttons[5:]
    assert (runbook["type"], runbook["text"]) == (1, "Runbook")
    assert doc["card_action"] == {"type": 1, "url": LINK}  # the whole card opens the page
    assert doc["task_id"] == TASK


def test_a_card_without_verbs_still_has_refresh() -> None:
    bare = samples.closed()
    bare["alerts"] = []
    doc = render_card(build_card(bare, Viewer(buttons=frozenset())), TASK)
    assert doc["button_list"] == [
        {"type": 0, "text": "Refresh", "style": 2, "key": "v1:refresh:42"}
    ]
    assert "card_action" not in doc


def test_the_tone_colours_the_source() -> None:
    triggered = render_card(build_card(samples.triggered()), TASK)
    closed = render_card(build_card(samples.closed()), TASK)
    assert triggered["source"] == {"desc": "ackgate", "desc_color": 2}  # critical: red
    assert closed["source"] == {"desc": "ackgate", "desc_color": 3}  # closed: green


def test_a_long_incident_keeps_to_the_template_area() -> None:
    doc = samples.acknowledged()
    doc["title"] = "T" * 500
    doc["body"] = "\n".join(f"line {i} " + "x" * 60 for i in range(12))
    doc["labels"] = {f"label{i:02}": "v" * 100 for i in range(20)}
    rendered = render_card(build_card(doc, Viewer(link=LINK)), TASK)
    check_limits(rendered)
    assert rendered["main_title"]["title"].startswith("🔴 #42 TTT")
    assert rendered["main_title"]["title"].endswith("…")
    assert rendered["sub_title_text"].count("\n") == 1  # two lines, then six fields
    assert len(rendered["horizontal_content_list"]) == HORIZONTAL_MAX


def test_an_extreme_hand_made_card_fits() -> None:
    card = Card(
        incident=7,
        title="#7 " + "🔥" * 100,
        severity=Severity.WARNING,
        tone=Tone.WARNING,
        emoji="🟠",
        status=Status.TRIGGERED,
        status_line="s" * 400,
        summary="😀" * 3000,
        fields=tuple(Field("l" * 300, "v" * 600) for _ in range(30)),
        links=(
            Link("too long", "https://e.example.com/" + "x" * 3000),
            *(Link("k" * 100, f"https://e.example.com/{i}") for i in range(10)),
        ),
        buttons=tuple(Button(v, "b" * 100, encode(v, 7)) for v in Verb),
        timeline=tuple("e" * 1000 for _ in range(10)),
        fallback="f",
    )
    doc = render_card(card, task_id(7, "x"))
    check_limits(doc)
    assert doc["card_action"]["url"] == "https://e.example.com/0"  # the overlong one is left out
    assert doc["button_list"][-1]["key"] == "v1:refresh:7"


def test_a_key_over_1024_bytes_is_refused() -> None:
    card = build_card(samples.triggered())
    long = Button(Verb.ACK, "Ack", "v1:ack:" + "9" * 1100)
    with pytest.raises(ValueError, match="1024 bytes"):
        render_card(dataclasses.replace(card, buttons=(long,)), TASK)


def test_task_ids_keep_to_wecoms_alphabet_and_size() -> None:
    assert task_id(42, "17-0f1e2d3c4b5a") == "ackgate-42-17-0f1e2d3c4b5a"
    assert task_id(1, "a_b@c") == "ackgate-1-a_b@c"
    for bad in ("", "a b", "a:b", "中", "x" * 200):
        with pytest.raises(ValueError, match="task_id"):
            task_id(42, bad)


def test_keys_read_back() -> None:
    assert read_key(encode(Verb.ACK, 42)) == (Verb.ACK, 42)
    assert read_key(refresh_key(42)) == (None, 42)
    for bad in ("", "v1:refresh:", "v1:refresh:0", "v1:refresh:x", "v2:ack:1", "v1:fly:1"):
        with pytest.raises(MalformedPayload):
            read_key(bad)


def test_render_is_pure() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    assert render_card(card, TASK, "zh") == render_card(card, TASK, "zh")
