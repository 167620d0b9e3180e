"""End to end: alerts become Zoom cards, and buttons act on incidents and update every copy."""

from __future__ import annotations

from tests.adapters.zoom.conftest import (
    ALICE,
    API,
    CHANNEL,
    STRANGER,
    USER_IDS,
    ZoomGateway,
    answer_text,
)
from tests.fakes.zoom import FakeZoom, Message


def status_of(card: Message) -> str:
    return str(card.content["head"]["sub_head"]["text"])


async def test_an_alert_posts_the_card_to_the_channel_and_to_the_paged_member(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number = await gateway.ingest()
    assert await gateway.drain() == 2

    [card] = zoom.cards(CHANNEL)
    assert card.content["head"]["text"] == f"🔴 #{number} 5xx ratio above 5% on checkout"
    assert status_of(card) == "Triggered"
    assert card.values() == [f"v1:ack:{number}", f"v1:close:{number}", f"v1:escalate:{number}"]
    # Comment is a field to type in, and Escalate also offers the members by name.
    assert card.editable_keys() == [f"Comment #{number}"]
    assert card.choices() == [
        {"text": "Alice (alice)", "value": f"v1:escalate:{number}:alice"},
        {"text": "Bob (bob)", "value": f"v1:escalate:{number}:bob"},
    ]
    [sent] = [c for c in zoom.called("/v2/im/chat/messages", "POST") if c.body["to_jid"] == CHANNEL]
    assert sent.headers["Authorization"] == f"Bearer {zoom.tokens[0]}"
    assert "is_markdown_support" not in sent.body
    # alice is paged in the bot's DM with her: the message goes to her user JID.
    [dm] = zoom.cards(ALICE)
    assert dm.values() == card.values()
    assert "?t=" in dm.text()  # her copy's incident link is signed for her
    assert "?t=" not in card.text()
    assert len(zoom.tokens) == 1  # one token for both sends


async def test_an_ack_button_acknowledges_and_edits_every_copy(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    [dm] = zoom.cards(ALICE)

    await gateway.press(ALICE, card, "ack", number)

    doc = await gateway.incident(number)
    assert (doc["status"], doc["acked_by"]) == ("acknowledged", "alice")
    assert card.edits == []  # the outbox edits the cards, not the click
    assert zoom.answers(CHANNEL) == []  # the card will say it: nothing else is posted
    await gateway.drain()
    for copy in (card, dm):
        [edit] = copy.edits
        assert edit["head"]["sub_head"]["text"].startswith("Acknowledged by alice")
        assert f"v1:ack:{number}" not in copy.values()
        assert f"v1:close:{number}" in copy.values()

    # A second press changes nothing and says so, to the presser only.
    await gateway.press(ALICE, card, "ack", number)
    [answer] = zoom.answers(CHANNEL)
    assert "already acknowledged by alice" in answer_text(answer)
    assert answer.visible_to_user == USER_IDS[ALICE]
    await gateway.drain()
    assert len(card.edits) == 1


async def test_close_reopen_and_escalate_buttons_act_at_once(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    await gateway.press(ALICE, card, "close", number)
    assert (await gateway.incident(number))["status"] == "closed"
    await gateway.drain()
    assert card.values() == [f"v1:reopen:{number}"]
    assert card.editable_keys() == [f"Comment #{number}"]
    assert card.choices() == []  # nothing to escalate once closed
    await gateway.press(ALICE, card, "reopen", number)
    assert (await gateway.incident(number))["status"] == "triggered"
    await gateway.drain()

    await gateway.press(ALICE, card, "escalate", number)
    doc = await gateway.incident(number)
    assert doc["assignees"] == ["bob"]  # the policy's next level
    assert doc["timeline"][-1]["kind"] == "escalated"


async def test_a_comment_button_of_an_older_card_says_how_to_comment(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    await gateway.press(ALICE, card, "comment", number)
    [answer] = zoom.answers(CHANNEL)
    assert answer_text(answer) == f"To comment on #{number}, send: comment {number} <your comment>"
    assert (await gateway.incident(number))["timeline"][-1]["kind"] == "triggered"


async def test_a_rest_ack_edits_the_zoom_cards(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, card = await gateway.opened()
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API
    )
    assert r.status == 200
    await gateway.drain()
    assert status_of(card).startswith("Acknowledged by alice")
    assert status_of(zoom.cards(ALICE)[0]).startswith("Acknowledged by alice")


async def test_an_unlinked_user_is_told_how_to_link_and_nothing_changes(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, card = await gateway.opened()
    await gateway.press(STRANGER, card, "ack", number)
    [answer] = zoom.answers(CHANNEL)
    text = answer_text(answer)
    assert f"Your Zoom account ({STRANGER}) is not linked" in text
    assert f'[[members.NAME.identities]]\nplatform = "zoom"\nuser_id = "{STRANGER}"' in text
    assert answer.visible_to_user == USER_IDS[STRANGER]
    assert (await gateway.incident(number))["status"] == "triggered"
    await gateway.drain()
    assert card.edits == []


async def test_a_stale_button_is_answered(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, card = await gateway.opened()
    r = await gateway.post(zoom.click(ALICE, card, "ack:42"))
    assert r.status == 200
    [answer] = zoom.answers(CHANNEL)
    assert "no longer valid" in answer_text(answer)
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_click_in_the_dm_is_answered_there(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, _card = await gateway.opened()
    [dm] = zoom.cards(ALICE)
    await gateway.press(ALICE, dm, "ack", number)
    await gateway.press(ALICE, dm, "ack", number)
    [answer] = zoom.answers(ALICE)
    assert "already acknowledged" in answer_text(answer)
    assert answer.visible_to_user is None  # a DM is hers alone anyway
