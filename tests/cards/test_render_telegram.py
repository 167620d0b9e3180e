"""Telegram HTML and inline keyboards: golden output, what Telegram's HTML parser accepts, and
the Bot API's limits (measured as shown, in UTF-16 units)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable

import pytest

from cards.build import Viewer, build_card, build_digest
from cards.callback import encode
from cards.model import Button, Card, Field, Link, Tone
from cards.render.telegram import TelegramMessage, render_digest, render_message
from gateway.domain import JSONObject, Severity, Status, Verb
from tests.cards import samples
from tests.cards.samples import check_golden, entry
from tests.fakes.telegram_bot import parse_html

LINK = "https://ackgate.example.com/incidents/42?t=token"

# The Bot API's limits (docs/platforms, section 3), restated here rather than imported.
TEXT_MAX = 4096
CALLBACK_DATA_MAX_BYTES = 64


def shown(message: TelegramMessage) -> str:
    """The text as a reader sees it; fails the test if Telegram would refuse the HTML."""
    text, problem = parse_html(message.text)
    assert problem is None, problem
    return text


def check_limits(message: TelegramMessage) -> None:
    assert 0 < len(shown(message).encode("utf-16-le")) // 2 <= TEXT_MAX
    for row in message.keyboard:
        assert row
        for button in row:
            assert button["text"]
            assert len(set(button) & {"callback_data", "url"}) == 1
            data = button.get("callback_data", "x")
            assert 1 <= len(data.encode()) <= CALLBACK_DATA_MAX_BYTES
            assert button.get("url", "https://").startswith(("https://", "http://"))


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
    message = render_message(build_card(make(), Viewer(lang=lang, link=LINK)))
    check_limits(message)
    name = f"telegram/{make.__name__}-{lang}"
    check_golden(f"{name}.html", message.text + "\n")
    keyboard = json.dumps(message.keyboard, indent=2, ensure_ascii=False) + "\n"
    check_golden(f"{name}-keyboard.json", keyboard)


def test_buttons_carry_the_callback_data_two_to_a_row() -> None:
    card = build_card(samples.triggered(), Viewer(link=LINK))
    rows = render_message(card).keyboard
    verbs = [b for row in rows for b in row if "callback_data" in b]
    assert [(b["text"], b["callback_data"]) for b in verbs] == [
        ("Acknowledge", encode(Verb.ACK, 42)),
        ("Close", encode(Verb.CLOSE, 42)),
        ("Escalate", encode(Verb.ESCALATE, 42)),
        ("Add comment", encode(Verb.COMMENT, 42)),
    ]
    assert [len(row) for row in rows[:2]] == [2, 2]
    links = [b for row in rows for b in row if "url" in b]
    assert [(b["text"], b["url"]) for b in links] == [(x.label, x.url) for x in card.links]


def test_no_buttons_leaves_only_the_links() -> None:
    message = render_message(build_card(samples.closed(), Viewer(buttons=frozenset())))
    assert message.keyboard
    assert all("url" in b for row in message.keyboard for b in row)
    bare = samples.closed()
    bare["alerts"] = []
    assert render_message(build_card(bare, Viewer(buttons=frozenset()))).keyboard == []


def test_alert_text_cannot_add_markup() -> None:
    doc = samples.triggered()
    doc["title"] = '<a href="https://evil.example.com">click</a> & <b>'
    doc["description"] = "</i><tg-spoiler>x</tg-spoiler> &amp; <script>"
    doc["labels"]["env"] = "<code>prod</code>"
    message = render_message(build_card(doc))
    text = shown(message)
    assert '#42 <a href="https://evil.example.com">click</a> & <b>' in text
    assert "</i><tg-spoiler>x</tg-spoiler> &amp; <script>" in text
    assert "env: <code>prod</code>" in text
    assert "<a " not in message.text  # no tag came through


def test_huge_incident_fits_and_keeps_its_head() -> None:
    doc = samples.acknowledged()
    doc["title"] = "T" * 2_000
    doc["description"] = "&<>" * 3_334
    doc["labels"] = {f"label{i:02}": "v&" * 1_000 for i in range(40)}
    doc["assignees"] = [f"member{i}" for i in range(200)]
    doc["timeline"] = [entry("2026-03-01T10:02:00Z", "commented", "m" * 500, "s") for _ in range(9)]
    message = render_message(build_card(doc, Viewer(link=LINK)))
    check_limits(message)
    text = shown(message)
    assert text.startswith("🔴 #42 TTT")
    assert "Acknowledged by alice · 10:02" in text


def test_an_extreme_hand_made_card_is_cut_to_fit() -> None:
    verbs = list(Verb)
    card = Card(
        incident=7,
        title="#7 " + "🔥" * 500,  # two UTF-16 units each
        severity=Severity.WARNING,
        tone=Tone.WARNING,
        emoji="🟠",
        status=Status.TRIGGERED,
        status_line="s" * 4_000,
        summary="😀" * 3_000,
        fields=tuple(Field("l" * 300, "v<" * 600) for _ in range(100)),
        links=(
            Link("too long", "https://e.example.com/" + "x" * 3_000),
            *(Link("k" * 100, f"https://e.example.com/{i}") for i in range(40)),
        ),
        buttons=tuple(Button(v, "b" * 100, encode(v, 7)) for v in verbs),
        timeline=tuple("e" * 1_000 for _ in range(10)),
        fallback="f",
    )
    message = render_message(card)
    check_limits(message)
    text = shown(message)
    assert len(text.encode("utf-16-le")) // 2 > TEXT_MAX - 100  # cut to fit, not far below
    assert text.startswith("🟠 #7 🔥🔥")
    assert text.endswith("…")
    urls = [b["url"] for row in message.keyboard for b in row if "url" in b]
    assert urls == [f"https://e.example.com/{i}" for i in range(6)]  # the overlong one is left out


def test_callback_data_over_64_bytes_is_refused() -> None:
    card = build_card(samples.triggered())
    long = Button(Verb.ACK, "Ack", "v1:ack:" + "9" * 60)
    with pytest.raises(ValueError, match="64 bytes"):
        render_message(dataclasses.replace(card, buttons=(long,)))


def test_render_is_pure() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    assert render_message(card) == render_message(card)


def digest_text(text: str) -> str:
    """A digest as a reader sees it; fails the test if Telegram would refuse it."""
    seen, problem = parse_html(text)
    assert problem is None, problem
    assert 0 < len(seen.encode("utf-16-le")) // 2 <= TEXT_MAX
    return seen


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_digest_golden(lang: str) -> None:
    text = render_digest(build_digest(samples.digest_items(), lang, 10))
    digest_text(text)
    check_golden(f"telegram/digest-{lang}.html", text + "\n")


def test_a_digest_links_each_incident_and_shows_titles_as_written() -> None:
    text = render_digest(build_digest(samples.digest_items(), "en", 10))
    seen = digest_text(text)
    pages = "https://ackgate.example.com/incidents"
    assert re.findall(r'<a href="([^"]*)">', text) == [f"{pages}/7", f"{pages}/8"]
    assert "🟠 #8 Disk <b>full</b> & [x](https://evil.example) <at id=all></at>" in seen
    assert "🔵 #9 磁盘使用率过高 on db-1" in seen  # no page: no link
    assert "<b>full</b>" not in text
    assert "<code>ack 7</code>" in text  # the hint's command, as code


def test_a_full_digest_fits_and_keeps_every_incident() -> None:
    text = render_digest(build_digest(samples.storm_items(), "en", 10))
    seen = digest_text(text)
    assert re.findall(r"#(\d+)", seen) == [str(1000 + n) for n in range(50)]
    assert "磁磁" in seen  # titles cut shorter, not dropped, while that fits
