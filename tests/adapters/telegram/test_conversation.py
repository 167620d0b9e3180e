"""The pure parts: command words, reading prompts back, answers that fit one message."""

from __future__ import annotations

import pytest

from adapters.recent import Recent
from adapters.telegram.acting import language
from adapters.telegram.conversation import command_text, fit_lines
from adapters.telegram.prompts import escalation, prompt_html, read_prompt
from gateway.domain import Verb
from tests.fakes.telegram_bot import parse_html


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/ack 42", "ack 42"),
        ("/ack@ackgate_bot 42", "ack 42"),
        ("/ACK@AckGate_Bot  #42", "ack  #42"),
        ("/close 42 rolled\nback", "close 42 rolled\nback"),
        ("/start", "help"),
        ("/start link-code", "help link-code"),
        ("ack 42", "ack 42"),
        ("/ack@", "/ack@"),  # not a command: left for the parser to refuse
    ],
)
def test_command_text(text: str, command: str) -> None:
    assert command_text(text) == command


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("verb", [Verb.COMMENT, Verb.ESCALATE])
def test_a_prompt_is_read_back_as_shown(lang: str, verb: Verb) -> None:
    shown, problem = parse_html(prompt_html(verb, 1234, lang, 111, "A <b>name</b>, #7"))
    assert problem is None
    assert read_prompt(shown) == (verb, 1234)
    assert read_prompt(shown.replace("1234", "x")) is None
    assert read_prompt(f"{shown} and more") is None


def test_escalation_answers() -> None:
    assert escalation(5, " Next ").member is None
    assert escalation(5, "下一级").member is None
    assert escalation(5, "@bob").member == "bob"


@pytest.mark.parametrize(
    ("code", "lang"), [("zh-hans", "zh"), ("en-GB", "en"), ("de", "en"), (None, "en")]
)
def test_language(code: str | None, lang: str) -> None:
    assert language(code) == lang


def test_fit_lines_keeps_one_message_and_escapes() -> None:
    text = fit_lines([f"<line {i}> & " + "x" * 90 for i in range(100)])
    shown, problem = parse_html(text)
    assert problem is None
    assert len(shown.encode("utf-16-le")) // 2 <= 4096
    assert shown.startswith("<line 0> & ")
    assert shown.endswith("\n…")


def test_recent_updates_forget_the_least_recently_seen() -> None:
    recent: Recent[int] = Recent(size=2)
    seen = [recent.claim(n) for n in (1, 2, 1, 3, 1, 2)]
    assert seen == [True, True, False, True, False, True]
