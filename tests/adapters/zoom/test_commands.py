"""Text commands: the slash command's text in a channel, or a direct message to the bot, in
the one command language, answered with a chatbot message where they were written."""

from __future__ import annotations

import re

from tests.adapters.zoom.conftest import (
    ALICE,
    CHANNEL,
    STRANGER,
    USER_IDS,
    ZoomGateway,
)
from tests.fakes.zoom import FakeZoom


async def test_commands_in_a_dm_act_and_answer(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    number, card = await gateway.opened()

    assert await gateway.say(ALICE, ALICE, f"ack {number}") == "Acknowledged by alice"
    assert (await gateway.incident(number))["acked_by"] == "alice"
    await gateway.drain()
    assert card.content["head"]["sub_head"]["text"].startswith("Acknowledged by alice")

    listed = await gateway.say(ALICE, ALICE, "list")
    assert listed.startswith("Open incidents (1):")
    assert f"#{number} 5xx ratio above 5% on checkout" in listed

    assert await gateway.say(ALICE, ALICE, "who") == (
        f"On call now:\n• service default: alice\nAssigned to open incidents:\n• alice: #{number}"
    )

    said = await gateway.say(ALICE, ALICE, f"close #{number} rolled back the deploy")
    assert said == "Closed by alice"
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"][-2:]] == ["commented", "closed"]
    assert doc["timeline"][-2]["data"] == {"text": "rolled back the deploy"}


async def test_a_channel_command_is_answered_to_its_writer_only(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, _card = await gateway.opened()
    assert await gateway.say(ALICE, CHANNEL, f"ack {number}") == "Acknowledged by alice"
    [answer] = zoom.answers(CHANNEL)
    assert answer.visible_to_user == USER_IDS[ALICE]
    assert answer.to_jid == CHANNEL


async def test_show_answers_with_the_card_and_link_with_the_member(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, _card = await gateway.opened()
    r = await gateway.post(zoom.command(ALICE, ALICE, f"show {number}"))
    assert r.status == 200
    shown = zoom.posts(ALICE)[-1]
    assert shown.content["head"]["text"].startswith(f"🔴 #{number} 5xx ratio")
    assert f"v1:ack:{number}" in shown.values()
    assert "?t=" in shown.text()  # the incident link is signed for alice

    assert await gateway.say(ALICE, ALICE, "link") == (
        "Your Zoom account is linked to the member alice."
    )
    assert await gateway.say(ALICE, ALICE, "show 999") == "Incident #999 does not exist"


async def test_an_unlinked_user_is_refused_and_told_how_to_link(
    gateway: ZoomGateway, zoom: FakeZoom
) -> None:
    number, _card = await gateway.opened()
    said = await gateway.say(STRANGER, STRANGER, f"ack {number}")
    assert said.startswith(f"Your Zoom account ({STRANGER}) is not linked to an ackgate member")
    assert f'platform = "zoom"\nuser_id = "{STRANGER}"' in said
    assert (await gateway.incident(number))["status"] == "triggered"
    # In a 1:1 chat with the bot, link also gives a one-time code for the self-service link.
    linking = await gateway.say(STRANGER, STRANGER, "link")
    assert re.match(r"Your code is [A-Z0-9]{8} ", linking), linking
    assert linking.endswith(said)
    # By email needs [email], which this gateway has not: it says so, whoever's address.
    for address in ("alice@example.com", "nobody@example.com"):
        assert await gateway.say(STRANGER, CHANNEL, f"link {address}") == (
            "This gateway sends no email, so linking by email is off. Send link without an "
            "address for a code, or ask an admin to link your account."
        )


async def test_mistakes_are_explained(gateway: ZoomGateway, zoom: FakeZoom) -> None:
    said = await gateway.say(ALICE, ALICE, "ack")
    assert said == "Which incident? Give its number.\nUsage: ack <number>"
    said = await gateway.say(ALICE, ALICE, "dance 42")
    assert said.startswith("I don't know the command “dance”.\nCommands,")
    help_text = await gateway.say(ALICE, ALICE, "")
    assert help_text.startswith("Commands, after the bot's slash command")
    assert "• ack 42 — acknowledge #42" in help_text
    assert await gateway.say(ALICE, ALICE, "ack 999") == "Incident #999 does not exist"
