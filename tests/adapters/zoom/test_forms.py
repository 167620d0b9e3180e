"""The card's inputs: text typed into its comment field is a comment, a member picked in its
Escalate dropdown is paged; each acts as the linked member and edits every copy of the card."""

from __future__ import annotations

from tests.adapters.zoom.conftest import (
    ALICE,
    BOB,
    CHANNEL,
    STRANGER,
    USER_IDS,
    ZoomGateway,
    answer_text,
)
from tests.fakes.zoom import FakeZoom, Message


def fields_of(message: Message) -> list[dict[str, object]]:
    """The card's fields (in its section), as shown."""
    [section] = [e for e in message.content["body"] if e["type"] == "section"]
    return [i for p in section["sections"] if p["type"] == "fields" for i in p["items"]]


async def test_a_comment_typed_in_the_card_is_added_and_every_copy_edited(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    [dm] = zoom.cards(ALICE)
    [key] = card.editable_keys()

    r = await gateway.post(zoom.edit_field(ALICE, card, key, "  rolling back the 11:58 deploy "))
    assert r.status == 200

    doc = await gateway.incident(number)
    last = doc["timeline"][-1]
    assert (last["kind"], last["actor"], last["source"]) == ("commented", "alice", "zoom")
    assert last["data"]["text"] == "rolling back the 11:58 deploy"
    # The field empties when the card is edited: the writer alone is told it was added.
    [answer] = zoom.answers(CHANNEL)
    assert answer_text(answer) == "Comment added by alice"
    assert answer.visible_to_user == USER_IDS[ALICE]
    await gateway.drain()
    for copy in (card, dm):
        [_edit] = copy.edits
        # The field is empty again, for the next comment.
        [field] = [e for e in copy.content["body"] if e["type"] == "fields"]
        assert field["items"] == [
            {"key": f"Comment #{number}", "value": " ", "editable": True, "short": False}
        ]


async def test_a_comment_in_the_dm_copy_acts_the_same(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, card = await gateway.opened()
    [dm] = zoom.cards(ALICE)
    r = await gateway.post(zoom.edit_field(ALICE, dm, f"Comment #{number}", "on it"))
    assert r.status == 200
    assert (await gateway.incident(number))["timeline"][-1]["data"]["text"] == "on it"
    [answer] = zoom.answers(ALICE)
    assert answer.visible_to_user is None  # her DM is hers alone anyway
    await gateway.drain()
    assert len(card.edits) == len(dm.edits) == 1


async def test_picking_a_member_in_the_dropdown_escalates_to_them(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    [dm] = zoom.cards(ALICE)
    value = f"v1:escalate:{number}:bob"
    assert value in [c["value"] for c in card.choices()]

    r = await gateway.post(zoom.choose(ALICE, card, value))
    assert r.status == 200

    doc = await gateway.incident(number)
    assert doc["assignees"] == ["bob"]
    last = doc["timeline"][-1]
    assert (last["kind"], last["actor"], last["source"]) == ("escalated", "alice", "zoom")
    assert zoom.answers(CHANNEL) == []
    await gateway.drain()
    assert len(card.edits) == 1
    assert len(dm.edits) == 1
    assert {"key": "Assignees", "value": "bob", "short": True} in fields_of(card)
    [bob_dm] = zoom.cards(BOB)  # bob is paged in his DM with the bot
    assert bob_dm.choices() == card.choices()


async def test_a_blank_comment_is_answered_and_changes_nothing(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    r = await gateway.post(zoom.edit_field(ALICE, card, f"Comment #{number}", "   "))
    assert r.status == 200
    [answer] = zoom.answers(CHANNEL)
    assert answer_text(answer) == "Write a comment first."
    assert answer.visible_to_user == USER_IDS[ALICE]
    assert [e["kind"] for e in (await gateway.incident(number))["timeline"]] == ["triggered"]


async def test_an_unlinked_user_cannot_comment_or_escalate(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    await gateway.post(zoom.edit_field(STRANGER, card, f"Comment #{number}", "let me in"))
    await gateway.post(zoom.choose(STRANGER, card, f"v1:escalate:{number}:bob"))
    answers = [answer_text(a) for a in zoom.answers(CHANNEL)]
    assert len(answers) == 2
    assert all(f"Your Zoom account ({STRANGER}) is not linked" in a for a in answers)
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"]] == ["triggered"]
    assert doc["assignees"] == ["alice"]
    assert await gateway.drain() == 0


async def test_escalating_to_someone_not_a_member_is_refused(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    await gateway.post(zoom.choose(ALICE, card, f"v1:escalate:{number}:mallory"))
    [answer] = zoom.answers(CHANNEL)
    assert "mallory" in answer_text(answer)
    assert (await gateway.incident(number))["assignees"] == ["alice"]


async def test_inputs_that_are_not_ours_are_answered_and_change_nothing(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    for doc in (
        zoom.edit_field(ALICE, card, "Title", "Developer Advocate"),
        zoom.edit_field(ALICE, card, "Comment #x", "text"),
        zoom.choose(ALICE, card, "tesla"),
        zoom.choose(ALICE, card, f"v1:ack:{number}:bob"),
        zoom.choose(ALICE, card, f"v1:escalate:{number}:"),
    ):
        r = await gateway.post(doc)
        assert r.status == 200
    answers = [answer_text(a) for a in zoom.answers(CHANNEL)]
    assert len(answers) == 5
    assert all("no longer valid" in a for a in answers)
    assert [e["kind"] for e in (await gateway.incident(number))["timeline"]] == ["triggered"]


async def test_a_forged_or_replayed_input_acts_at_most_once(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    comment = zoom.edit_field(ALICE, card, f"Comment #{number}", "one")
    pick = zoom.choose(ALICE, card, f"v1:escalate:{number}:bob")
    for doc in (comment, pick):
        assert (await gateway.post(doc, secret="not-the-secret-token")).status == 401
        assert (await gateway.post(doc, timestamp=0)).status == 401
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"]] == ["triggered"]

    for _ in range(2):  # Zoom retries an event it thinks we missed
        assert (await gateway.post(comment)).status == 200
        assert (await gateway.post(pick)).status == 200
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"]] == ["triggered", "commented", "escalated"]
    assert len(zoom.answers(CHANNEL)) == 1  # "Comment added", once
