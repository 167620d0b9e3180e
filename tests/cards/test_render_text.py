"""Plain text for SMS, voice and email: golden output and trimming to a length."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cards.build import Viewer, build_card
from cards.model import Card
from cards.render.text import render_text
from gateway.domain import JSONObject
from tests.cards import samples
from tests.cards.samples import check_golden

LINK = "https://ackgate.example.com/incidents/42?t=token"


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
    text = render_text(build_card(make(), Viewer(lang=lang, link=LINK)))
    check_golden(f"{make.__name__}-{lang}.txt", text + "\n")


@pytest.fixture
def card() -> Card:
    return build_card(samples.acknowledged(), Viewer(link=LINK))


HEAD = "🔴 #42 HighErrorRate on checkout\nAcknowledged by alice · 10:02"


@pytest.mark.parametrize("max_chars", [len(HEAD) + 1, len(HEAD) + 2, 80, 160, 300])
def test_trim_keeps_title_and_status_line(card: Card, max_chars: int) -> None:
    full = render_text(card)
    text = render_text(card, max_chars=max_chars)
    assert len(text) <= max_chars
    assert text.startswith(HEAD)
    assert text.endswith("…")
    assert full.startswith(text[:-1].rstrip())


def test_trim_below_the_head_cuts_the_head(card: Card) -> None:
    assert render_text(card, max_chars=20) == "🔴 #42 HighErrorRate…"


@pytest.mark.parametrize("extra", [0, 1, 1000])
def test_no_trim_when_it_fits(card: Card, extra: int) -> None:
    full = render_text(card)
    assert render_text(card, max_chars=len(full) + extra) == full
    assert not full.endswith("…")


def test_max_chars_must_be_positive(card: Card) -> None:
    with pytest.raises(ValueError, match="max_chars"):
        render_text(card, max_chars=0)


def test_bare_card() -> None:
    doc = samples.triggered()
    del doc["alerts"], doc["timeline"]
    doc["labels"] = {}
    text = render_text(build_card(doc, Viewer(buttons=frozenset())))
    assert text == (
        "🔴 #42 HighErrorRate on checkout\n"
        "Triggered\n"
        "\n"
        "Service: checkout\n"
        "Severity: Critical\n"
        "Alerts: 2\n"
        "Started: 2026-03-01 10:00 UTC\n"
        "Duration: 0m\n"
        "Assignees: alice"
    )
