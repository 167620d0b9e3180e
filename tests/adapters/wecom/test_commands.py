"""Text commands sent to the app: one command language, answered with a text message (or the
card, for ``show``); strangers are told how to link, not shown incidents."""

from __future__ import annotations

import re
from datetime import timedelta

from gateway.links import LinkSigner
from tests.adapters.wecom.conftest import ALICE, BOB, STRANGER, WecomGateway
from tests.fakes.wecom import FakeWecom
from tests.support import BASE


async def test_commands_act_and_answer(gateway: WecomGateway, wecom: FakeWecom) -> None:
    number, card = await gateway.opened()

    assert await gateway.say(ALICE, f"ack {number}") == "Acknowledged by alice"
    assert (await gateway.incident(number))["acked_by"] == "alice"
    await gateway.deliver()
    assert card.now["main_title"]["desc"].startswith("Acknowledged by alice")  # the send's code

    listed = await gateway.say(ALICE, "list")
    assert listed.startswith("Open incidents (1):")
    assert f"#{number} 5xx ratio above 5% on checkout" in listed

    assert await gateway.say(ALICE, "/who") == (
        f"On call now:\n• service default: alice\nAssigned to open incidents:\n• alice: #{number}"
    )

    assert await gateway.say(BOB, f"close #{number} rolled back the deploy") == "Closed by bob"
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"][-2:]] == ["commented", "closed"]
    assert doc["timeline"][-2]["data"] == {"text": "rolled back the deploy"}


async def test_mistakes_are_explained(gateway: WecomGateway, wecom: FakeWecom) -> None:
    await gateway.opened()
    assert await gateway.say(ALICE, "ack") == (
        "Which incident? Give its number.\nUsage: ack <number>"
    )
    said = await gateway.say(ALICE, "frobnicate 1")
    assert said.startswith("I don't know the command “frobnicate”.\nCommands;")
    assert await gateway.say(ALICE, "ack 999") == "Incident #999 does not exist"


async def test_show_sends_the_card_and_link_tells_the_member(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    r = await gateway.deliver_callback(wecom.text_message(ALICE, f"show {number}"))
    assert r.status == 200
    await gateway.quiet()
    shown = wecom.cards_of(ALICE)[-1]
    assert shown is not card
    assert shown.task_id.startswith(f"ackgate-{number}-show-")
    assert f"v1:ack:{number}" in shown.button_keys()
    assert "?t=" in shown.now["card_action"]["url"]  # signed for alice

    assert await gateway.say(ALICE, "link") == "Your WeCom account is linked to the member alice."
    assert await gateway.say(BOB, "link") == "Your WeCom account is linked to the member bob."


async def test_a_stranger_is_told_how_to_link_and_shown_nothing(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, _card = await gateway.opened()
    refused = await gateway.say(STRANGER, f"ack {number}")
    assert refused.startswith(f"Your WeCom account (UserID {STRANGER}) is not linked")
    assert (await gateway.incident(number))["status"] == "triggered"
    assert (await gateway.say(STRANGER, "list")) == refused

    how = await gateway.say(STRANGER, "link")
    assert f'platform = "wecom"\nuser_id = "{STRANGER}"' in how
    assert "ackgate mapping import" in how
    code = re.search(r"Your code is ([A-Z0-9]{8})", how)
    assert code is not None, how
    # Entered on a page bob opened through his own link, the code makes the account bob's.
    token = (
        LinkSigner(BASE["server"]["secret_key"])
        .url("", "bob", number, gateway.clock.now(), timedelta(hours=1))
        .split("?t=", 1)[1]
    )
    form = {"t": token, "verb": "link", "code": code.group(1)}
    page = await gateway.client.post(f"/incidents/{number}/actions", data=form)
    assert "Your wecom account is now linked to bob." in await page.text()
    assert await gateway.say(STRANGER, "link") == "Your WeCom account is linked to the member bob."
    assert (await gateway.say(STRANGER, "help")).startswith("Commands;")


async def test_a_message_is_answered_once(gateway: WecomGateway, wecom: FakeWecom) -> None:
    number, _card = await gateway.opened()
    query, body = wecom.callback(wecom.text_message(ALICE, f"comment {number} looking"))
    for _ in range(3):  # WeCom resends a callback it had no answer to
        r = await gateway.post(query, body)
        assert r.status == 200
    await gateway.quiet()
    assert wecom.texts_of(ALICE) == ["Comment added by alice"]
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"]].count("commented") == 1


async def test_a_picture_is_answered_with_what_the_app_reads(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    image = wecom.text_message(ALICE, "").replace(b"[text]", b"[image]")
    r = await gateway.deliver_callback(image)
    assert r.status == 200
    await gateway.quiet()
    assert wecom.texts_of(ALICE) == ["I only read text. Send help for the commands."]
