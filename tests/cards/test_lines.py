"""The lines every platform words alike: event replies, the open list, who is on call."""

from __future__ import annotations

from cards.lines import event_line, who_lines
from gateway.oncall import OnCall


def test_event_lines() -> None:
    assert event_line({"kind": "triggered"}, "en") is None
    assert event_line({"kind": "acknowledged", "actor": "alice"}, "en") == "Acknowledged by alice"
    assert event_line({"kind": "closed", "actor": None}, "en") == "Closed: all alerts resolved"
    comment = {"kind": "commented", "actor": "bob", "data": {"text": "rolled\n back <x>"}}
    assert event_line(comment, "en") == "bob commented: rolled back <x>"
    escaped = event_line(comment, "en", escape=lambda t: t.replace("<", "&lt;"))
    assert escaped == "bob commented: rolled back &lt;x>"
    long = {"kind": "commented", "actor": "bob", "data": {"text": "x" * 2000}}
    line = event_line(long, "en", max_chars=50)
    assert line is not None
    assert len(line) <= 50


def test_who_lines_escape_what_people_named() -> None:
    lines = who_lines([], "en", [OnCall("schedule", "<dba>", ("alice",))], escape=str.upper)
    assert lines == [
        "On call now:",
        "• schedule <DBA>: ALICE",
        "Nobody is assigned to an open incident.",
    ]
