"""The text-command parser, table-driven: what each line means, and what each mistake says."""

from __future__ import annotations

import pytest

from adapters.recent import Recent
from adapters.slack.commands import Command, CommandError, parse, strip_mention
from adapters.slack.modals import Submission, modal, read_submission
from gateway.domain import Verb
from gateway.errors import MalformedPayload


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ack 42", Command("ack", 42)),
        ("  ACK   #42  ", Command("ack", 42)),
        ("acknowledge 42", Command("ack", 42)),
        ("close 42", Command("close", 42)),
        ("close 42 rolled back the deploy", Command("close", 42, text="rolled back the deploy")),
        ("resolve 7 fixed &amp; verified", Command("close", 7, text="fixed & verified")),
        ("reopen 3", Command("reopen", 3)),
        ("comment 42 disk is <b>full</b>\nsecond line",
         Command("comment", 42, text="disk is <b>full</b>\nsecond line")),
        ("comment 42 a &lt;b&gt; c", Command("comment", 42, text="a <b> c")),
        ("escalate 42", Command("escalate", 42)),
        ("escalate 42 <@UBOB>", Command("escalate", 42, user="UBOB")),
        ("escalate 42 <@W123|bob>", Command("escalate", 42, user="W123")),
        ("escalate 42 @bob", Command("escalate", 42, member="bob")),
        ("escalate 42 bob", Command("escalate", 42, member="bob")),
        ("snooze 42", Command("snooze", 42)),
        ("snooze 42 30m", Command("snooze", 42, minutes=30)),
        ("snooze 42 30min", Command("snooze", 42, minutes=30)),
        ("snooze 42 2h", Command("snooze", 42, minutes=120)),
        ("snooze 42 1h30m", Command("snooze", 42, minutes=90)),
        ("snooze 42 45", Command("snooze", 42, minutes=45)),
        ("show 42", Command("show", 42)),
        ("status #42", Command("show", 42)),
        ("list", Command("list")),
        ("ls", Command("list")),
        ("who", Command("who")),
        ("link", Command("link")),
        ("help", Command("help")),
        ("help me please", Command("help")),
        ("", Command("help")),
        ("   ", Command("help")),
    ],
)  # fmt: skip
def test_parses(text: str, expected: Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("ack", "Which incident? Give its number.\nUsage: `ack <number>`"),
        ("ack x", "“x” is not an incident number.\nUsage: `ack <number>`"),
        ("ack 0", "“0” is not an incident number.\nUsage: `ack <number>`"),
        ("ack -1", "“-1” is not an incident number.\nUsage: `ack <number>`"),
        ("ack 1234567890123456789", "“1234567890123456789” is not an incident number.\n"
         "Usage: `ack <number>`"),
        ("ack 42 now", "I did not expect “now” there.\nUsage: `ack <number>`"),
        ("comment 42", "Write the comment after the incident number.\n"
         "Usage: `comment <number> <text>`"),
        ("snooze 42 soon", "“soon” is not a duration: use minutes or hours, like 30m, 2h or "
         "1h30m.\nUsage: `snooze <number> [30m]`"),
        ("snooze 42 h", "“h” is not a duration: use minutes or hours, like 30m, 2h or 1h30m.\n"
         "Usage: `snooze <number> [30m]`"),
        ("escalate 42 bob and carol", "I did not expect “bob and carol” there.\n"
         "Usage: `escalate <number> [@person]`"),
        ("list all", "I did not expect “all” there.\nUsage: `list`"),
    ],
)  # fmt: skip
def test_mistakes_say_what_and_how(text: str, answer: str) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text)
    assert caught.value.answer("en", "/oncall") == answer


def test_an_unknown_command_gets_the_whole_help() -> None:
    with pytest.raises(CommandError) as caught:
        parse("frobnicate 42")
    answer = caught.value.answer("en", "/page")
    assert answer.startswith("I don't know the command “frobnicate”.\n")
    assert "`/page …`" in answer
    assert "`escalate 42 [@person]`" in answer


def test_mistakes_are_answered_in_chinese_too() -> None:
    with pytest.raises(CommandError) as caught:
        parse("ack")
    assert caught.value.answer("zh", "/oncall") == "请给出事件编号。\n用法：`ack <number>`"


def test_verbs() -> None:
    assert parse("ack 1").verb is Verb.ACK
    assert parse("escalate 1").verb is Verb.ESCALATE
    assert parse("show 1").verb is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@UBOT> ack 42", "ack 42"),
        ("<@UBOT|ackgate>: list", "list"),
        ("ack 42", "ack 42"),
        ("<@UBOT> escalate 1 <@UBOB>", "escalate 1 <@UBOB>"),
    ],
)
def test_strip_mention(text: str, expected: str) -> None:
    assert strip_mention(text) == expected


def test_recent_events_run_once_unless_they_failed() -> None:
    recent: Recent[str] = Recent(size=2)
    with recent.running("Ev1") as fresh:
        assert fresh
    with recent.running("Ev1") as fresh:
        assert not fresh

    def fail_while_handling(event_id: str) -> None:
        with recent.running(event_id) as fresh:
            assert fresh
            raise RuntimeError("database down")

    with pytest.raises(RuntimeError):
        fail_while_handling("Ev2")
    with recent.running("Ev2") as fresh:
        assert fresh  # the failed one may run again when Slack retries
    with recent.running("Ev3") as fresh:
        assert fresh
    with recent.running("Ev1") as fresh:
        assert fresh  # forgotten: only the newest two are kept
    with recent.running(None) as fresh:
        assert fresh


@pytest.mark.parametrize("verb", [Verb.COMMENT, Verb.ESCALATE])
def test_modals_stay_within_slack_limits_and_round_trip(verb: Verb) -> None:
    view = modal(verb, 123456789012345678, "en")
    assert len(view["title"]["text"]) <= 24
    assert len(view["submit"]["text"]) <= 24
    assert len(view["private_metadata"]) <= 3000
    submitted = {**view, "state": {"values": {}}}
    assert read_submission(submitted) == Submission(verb, 123456789012345678)


def test_a_foreign_view_is_malformed() -> None:
    with pytest.raises(MalformedPayload):
        read_submission({"private_metadata": "something else"})
