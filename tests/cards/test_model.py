"""What the neutral model gives every renderer of a digest card: shorter versions of it, and
the commands its hint marks."""

from __future__ import annotations

from cards.build import build_digest
from cards.model import DIGEST_TITLE_STEPS, code_spans, shortened
from tests.cards import samples


def test_a_digest_is_offered_with_ever_shorter_titles_and_never_fewer_incidents() -> None:
    digest = build_digest(samples.storm_items(3), "en", 10)
    versions = list(shortened(digest))
    assert versions[0] == digest
    assert len(versions) == len(DIGEST_TITLE_STEPS) + 1
    for version, limit in zip(versions[1:], DIGEST_TITLE_STEPS, strict=True):
        assert [e.incident for e in version.entries] == [1000, 1001, 1002]
        assert all(len(e.title) <= limit for e in version.entries)
        assert (version.headline, version.hint) == (digest.headline, digest.hint)
    assert all(e.title == "" for e in versions[-1].entries)
    assert [e.url for e in versions[-1].entries] == [e.url for e in digest.entries]


def test_code_spans_are_what_backticks_mark() -> None:
    assert code_spans("e.g. `ack 7`.") == [("e.g. ", False), ("ack 7", True), (".", False)]
    assert code_spans("`ack 7`") == [("ack 7", True)]
    assert code_spans("no command") == [("no command", False)]
    assert code_spans("one ` only") == [("one ` only", False)]
    assert code_spans("") == []
