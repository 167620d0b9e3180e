"""Zoom chatbot message content: golden output, the shapes Zoom takes, and the size budget."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from cards import callback
from cards.build import Viewer, build_card, build_digest
from cards.callback import encode
from cards.model import Button, Card, Field, Link, Tone
from cards.render.zoom import (
    SELECT_MAX,
    comment_incident,
    comment_key,
    escalate_choice,
    escalate_value,
    render_content,
    render_digest,
)
from gateway.domain import JSONObject, Severity, Status, Verb
from gateway.errors import MalformedPayload
from tests.cards import samples
from tests.cards.samples import check_golden, entry
from tests.fakes.zoom import content_problem, size

LINK = "https://ackgate.example.com/incidents/42?t=token"
MEMBERS = (("alice", "Alice (alice)"), ("bob", "Bob (bob)"))
# Restated rather than imported: the budget the fake holds every message to.
TEXT_MAX = 4_000


def check_content(content: JSONObject) -> None:
    """Zoom would take it: the fake's checks, and every button's value decodes."""
    assert content_problem(content) is None, content_problem(content)
    for button in buttons(content):
        callback.decode(button["value"])


def buttons(content: JSONObject) -> list[JSONObject]:
    return [i for e in content["body"] if e["type"] == "actions" for i in e["items"]]


def editable(content: JSONObject) -> list[JSONObject]:
    """The editable fields (the card's inputs, outside its section)."""
    return [i for e in content["body"] if e["type"] == "fields" for i in e["items"]]


def selects(content: JSONObject) -> list[JSONObject]:
    return [e for e in content["body"] if e["type"] == "select"]


def links(content: JSONObject) -> list[JSONObject]:
    return [e for e in content["body"] if e["type"] == "message" and "link" in e]


def section(content: JSONObject) -> JSONObject:
    [found] = [e for e in content["body"] if e["type"] == "section"]
    return dict(found)


@pytest.mark.parametrize(
    ("make", "lang"),
    [(samples.triggered, "en"), (samples.acknowledged, "en"), (samples.closed, "zh")],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_golden(make: Callable[[], JSONObject], lang: str) -> None:
    card = build_card(make(), Viewer(lang=lang, link=LINK))
    content = render_content(card, members=MEMBERS, lang=lang)
    check_content(content)
    text = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    check_golden(f"zoom/{make.__name__}-{lang}.json", text)


def test_head_is_the_title_and_the_status() -> None:
    card = build_card(samples.acknowledged(), Viewer(link=LINK))
    head = render_content(card)["head"]
    assert head == {
        "text": f"{card.emoji} {card.title}",
        "sub_head": {"text": card.status_line},
    }
    assert card.status_line.startswith("Acknowledged by alice")


def test_buttons_carry_the_callback_data_and_a_style() -> None:
    content = render_content(build_card(samples.triggered(), Viewer(link=LINK)))
    assert [(b["text"], b["value"], b["style"]) for b in buttons(content)] == [
        ("Acknowledge", encode(Verb.ACK, 42), "Primary"),
        ("Close", encode(Verb.CLOSE, 42), "Danger"),
        ("Escalate", encode(Verb.ESCALATE, 42), "Default"),
    ]
    [actions] = [e for e in content["body"] if e["type"] == "actions"]
    assert actions["limit"] == 3  # every button shown, none folded into a menu
    assert links(content)[0] == {"type": "message", "text": "Open incident", "link": LINK}


def test_comment_is_an_empty_editable_field_that_names_the_incident() -> None:
    content = render_content(build_card(samples.triggered(), Viewer(link=LINK)))
    assert editable(content) == [
        {"key": "Comment #42", "value": " ", "editable": True, "short": False}
    ]
    assert comment_incident(editable(content)[0]["key"]) == 42
    zh = render_content(build_card(samples.triggered(), Viewer(lang="zh")), lang="zh")
    assert editable(zh)[0]["key"] == "评论 #42"
    assert comment_incident("评论 #42") == 42
    without = build_card(samples.triggered(), Viewer(buttons=frozenset({Verb.ACK})))
    assert editable(render_content(without)) == []


def test_escalate_offers_the_members_as_choices() -> None:
    card = build_card(samples.triggered(), Viewer(link=LINK))
    [select] = selects(render_content(card, members=MEMBERS))
    assert select == {
        "type": "select",
        "text": "Escalate to",
        "select_items": [
            {"text": "Alice (alice)", "value": "v1:escalate:42:alice"},
            {"text": "Bob (bob)", "value": "v1:escalate:42:bob"},
        ],
    }
    assert [escalate_choice(i["value"]) for i in select["select_items"]] == [
        (42, "alice"),
        (42, "bob"),
    ]
    assert selects(render_content(card)) == []  # no members, no dropdown
    closed = build_card(samples.closed(), Viewer(link=LINK))
    assert selects(render_content(closed, members=MEMBERS)) == []  # no Escalate once closed


def test_the_dropdown_keeps_to_its_share_of_the_budget() -> None:
    card = build_card(samples.triggered(), Viewer(link=LINK))
    many = [(f"member{i:03}", f"Member number {i:03} ({'x' * 40})") for i in range(300)]
    long_name = ("n" * 60, "Has a name too long for a choice")
    content = render_content(card, members=[long_name, *many])
    check_content(content)
    [select] = selects(content)
    items = select["select_items"]
    assert 5 < len(items) < 50
    assert size(select) <= SELECT_MAX
    assert items[0]["value"] == "v1:escalate:42:member000"  # the long name is left out
    assert size(content) <= TEXT_MAX
    assert section(content)["sections"][0]["type"] == "message"  # the summary stayed


def test_choice_and_field_values_are_read_back_or_refused() -> None:
    assert escalate_choice(escalate_value(7, "team:db")) == (7, "team:db")
    assert comment_incident(comment_key(123456789, "en")) == 123456789
    for bad in ("tesla", "v1:escalate:42", "v1:escalate:42:", "v1:ack:42:bob", 42, None):
        with pytest.raises(MalformedPayload):
            escalate_choice(bad)
    for bad in ("Title", "Comment #0", "Comment #x", "Comment#42", "", None):
        with pytest.raises(MalformedPayload):
            comment_incident(bad)


def test_fields_and_colour_follow_the_card() -> None:
    card = build_card(samples.closed(), Viewer(link=LINK))
    part = section(render_content(card))
    assert part["sidebar_color"] == "#12B76A"  # closed: success green
    [fields] = [p for p in part["sections"] if p["type"] == "fields"]
    assert [(i["key"], i["value"]) for i in fields["items"]] == [
        (f.label, f.value) for f in card.fields
    ]
    critical = section(render_content(build_card(samples.triggered())))
    assert critical["sidebar_color"] == "#D92D20"


def test_no_buttons_leaves_no_actions_element() -> None:
    content = render_content(build_card(samples.closed(), Viewer(buttons=frozenset())))
    check_content(content)
    assert buttons(content) == []
    assert all(e["type"] != "actions" for e in content["body"])


def test_alert_text_is_shown_as_written() -> None:
    doc = samples.triggered()
    doc["title"] = "<!here> **bold** [x](https://evil.example.com)"
    doc["description"] = "@all <at user_id='x'/>"
    content = render_content(build_card(doc))
    check_content(content)
    assert "is_markdown_support" not in json.dumps(content)  # nothing is parsed as Markdown
    assert "<!here> **bold** [x](https://evil.example.com)" in content["head"]["text"]
    [summary] = [p for p in section(content)["sections"] if p["type"] == "message"][:1]
    assert summary["text"] == "@all <at user_id='x'/>"


def test_huge_incident_fits_and_keeps_head_buttons_and_page_link() -> None:
    doc = samples.acknowledged()
    doc["title"] = "T" * 2_000
    doc["description"] = "d" * 10_000
    doc["labels"] = {f"label{i:02}": "v" * 1_000 for i in range(40)}
    doc["assignees"] = [f"member{i}" for i in range(200)]
    doc["timeline"] = [entry("2026-03-01T10:02:00Z", "commented", "m" * 500, "s") for _ in range(9)]
    content = render_content(build_card(doc, Viewer(link=LINK)))
    check_content(content)
    assert size(content) <= TEXT_MAX
    assert content["head"]["text"].startswith("🔴 #42 TTT")
    assert content["head"]["sub_head"]["text"].startswith("Acknowledged by alice")
    assert buttons(content)
    assert links(content)[0]["link"] == LINK


def test_an_extreme_hand_made_card_is_cut_to_fit() -> None:
    card = Card(
        incident=7,
        title="#7 " + "🔥" * 500,
        severity=Severity.WARNING,
        tone=Tone.WARNING,
        emoji="🟠",
        status=Status.TRIGGERED,
        status_line="s" * 4_000,
        summary="😀" * 3_000,
        fields=tuple(Field("l" * 300, "v" * 600) for _ in range(100)),
        links=(
            Link("too long", "https://e.example.com/" + "x" * 3_000),
            *(Link("k" * 100, f"https://e.example.com/{i}" + "y" * 1_900) for i in range(40)),
        ),
        buttons=tuple(Button(v, "b" * 100, encode(v, 7)) for v in Verb),
        timeline=tuple("e" * 1_000 for _ in range(10)),
        fallback="f",
    )
    content = render_content(card)
    check_content(content)
    assert TEXT_MAX - 100 < size(content) <= TEXT_MAX  # cut to fit, not far below
    assert len(buttons(content)) == len(Verb) - 1  # Comment is a field
    assert len(editable(content)) == 1
    urls = [link["link"] for link in links(content)]
    assert urls[0].startswith("https://e.example.com/0")  # the overlong one is left out
    summary = section(content)["sections"][0]["text"]
    assert summary.endswith("…")


def test_an_empty_field_value_is_shown_as_a_dash() -> None:
    card = dataclasses.replace(build_card(samples.triggered()), fields=(Field("env", ""),))
    [fields] = [p for p in section(render_content(card))["sections"] if p["type"] == "fields"]
    assert fields["items"] == [{"key": "env", "value": "-", "short": True}]


def test_callback_data_over_64_bytes_is_refused() -> None:
    card = build_card(samples.triggered())
    long = Button(Verb.ACK, "Ack", "v1:ack:" + "9" * 60)
    with pytest.raises(ValueError, match="64 bytes"):
        render_content(dataclasses.replace(card, buttons=(long,)))


def test_render_is_pure() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    assert render_content(card) == render_content(card)


def digest_lines(content: JSONObject) -> list[JSONObject]:
    """A digest's incident lines: the messages of its one section."""
    return list(section(content)["sections"])


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_digest_golden(lang: str) -> None:
    content = render_digest(build_digest(samples.digest_items(), lang, 10))
    check_content(content)
    text = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    check_golden(f"zoom/digest-{lang}.json", text)


def test_a_digest_links_each_incident_and_shows_titles_as_written() -> None:
    content = render_digest(build_digest(samples.digest_items(), "en", 10))
    check_content(content)
    assert content["head"] == {"text": "3 incidents opened here faster than cards can be posted"}
    pages = "https://ackgate.example.com/incidents"
    assert digest_lines(content) == [
        {"type": "message", "text": "🔴 #7 HighErrorRate on checkout", "link": f"{pages}/7"},
        {
            "type": "message",
            # Shown as written: nothing in a title can format, mention or link.
            "text": "🟠 #8 Disk <b>full</b> & [x](https://evil.example) <at id=all></at> "
            "*boom* `rm` <!channel> #9",
            "link": f"{pages}/8",
        },
        {"type": "message", "text": "🔵 #9 磁盘使用率过高 on db-1"},  # no page: no link
    ]
    assert "is_markdown_support" not in json.dumps(content)
    assert buttons(content) == []  # nothing to press: each incident has its page
    hint = content["body"][-1]
    assert hint["type"] == "message"
    assert "ack 7" in hint["text"]


def test_a_full_digest_fits_and_keeps_every_incident() -> None:
    content = render_digest(build_digest(samples.storm_items(), "en", 10))
    check_content(content)
    assert TEXT_MAX - 600 < size(content) <= TEXT_MAX
    lines = digest_lines(content)
    assert [line["link"] for line in lines] == [
        f"https://ackgate.example.com/incidents/{1000 + n}" for n in range(50)
    ]
    assert [line["text"].split()[1] for line in lines] == [f"#{1000 + n}" for n in range(50)]
    assert all("磁磁" in line["text"] for line in lines)  # titles cut shorter, not dropped


def test_a_digest_with_overlong_links_keeps_every_incident_without_them() -> None:
    items = samples.storm_items()
    for item in items:
        item["url"] = f"{item['url']}?t={'x' * 200}"
    content = render_digest(build_digest(items, "en", 10))
    check_content(content)
    lines = digest_lines(content)
    assert [line["text"].split()[1] for line in lines] == [f"#{1000 + n}" for n in range(50)]
    assert all("link" not in line for line in lines)
    assert all("磁磁" in line["text"] for line in lines)  # the room the links took, back
