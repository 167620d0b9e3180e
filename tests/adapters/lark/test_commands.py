"""Text commands in a DM to the bot and after @mentioning it in a group, answered as replies."""

from __future__ import annotations

import re
from typing import Any

import pytest

from adapters.lark.conversation import command_text
from tests.adapters.lark.conftest import ALICE, BOB, CHAT, STRANGER, LarkGateway, reply_text
from tests.fakes.lark import FakeLark

BOT = {"key": "@_user_1", "id": {"open_id": "ou_bot", "union_id": "on_bot"}, "name": "ackgate"}


def mention(key: str, open_id: str, name: str) -> dict[str, Any]:
    return {"key": key, "id": {"open_id": open_id}, "name": name}


async def test_ack_in_a_dm(gateway: LarkGateway, lark: FakeLark) -> None:
    number = await gateway.ingest()
    reply = await gateway.say(f"ack {number}")
    assert reply.msg_type == "post"
    assert reply_text(reply) == "Acknowledged by alice"
    assert reply.chat_id == FakeLark.p2p_chat(ALICE)
    doc = await gateway.incident(number)
    assert doc["acked_by"] == "alice"
    assert doc["timeline"][-1]["source"] == "lark"


async def test_list_and_who(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    listed = reply_text(await gateway.say("list"))
    assert listed.splitlines()[0] == "Open incidents (1):"
    assert f"#{number} 5xx ratio above 5% on checkout — Triggered · alice" in listed
    who = reply_text(await gateway.say("who"))
    assert "Assigned to open incidents:" in who
    assert f"• alice: #{number}" in who


async def test_show_replies_with_the_card(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    reply = await gateway.say(f"show {number}")
    assert reply.msg_type == "interactive"
    assert reply.content["schema"] == "2.0"
    assert "?t=" in reply.text()  # alice is linked: her own link


async def test_a_mention_in_a_group_acts(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    reply = await gateway.say(f"@_user_1 close {number} rolled back", chat_type="group",
                              mentions=[BOT])  # fmt: skip
    assert reply.chat_id == CHAT
    assert reply_text(reply) == "Closed by alice"
    timeline = (await gateway.incident(number))["timeline"]
    assert [e["kind"] for e in timeline[-2:]] == ["commented", "closed"]
    assert timeline[-2]["data"] == {"text": "rolled back"}


async def test_escalate_to_a_mentioned_person_links_them_by_email(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    mentions = [BOT, mention("@_user_2", BOB, "Bob")]
    reply = await gateway.say(f"@_user_1 escalate {number} @_user_2", chat_type="group",
                              mentions=mentions)  # fmt: skip
    assert reply_text(reply) == "Escalated by alice to bob"
    assert (await gateway.incident(number))["assignees"] == ["bob"]

    mentions = [BOT, mention("@_user_2", STRANGER, "Stranger")]
    reply = await gateway.say(f"@_user_1 escalate {number} @_user_2", chat_type="group",
                              mentions=mentions)  # fmt: skip
    assert reply_text(reply) == "Stranger is not linked to an ackgate member yet."


async def test_an_unlinked_user_is_told_how_to_link(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    reply = reply_text(await gateway.say(f"ack {number}", user=STRANGER))
    assert reply.startswith("Your Feishu account is not linked to an ackgate member yet.")
    assert (await gateway.incident(number))["status"] == "triggered"
    how = reply_text(await gateway.say("link", user=STRANGER))
    assert f'{{ platform = "lark", user_id = "{STRANGER}" }}' in how
    # In a direct message the bot also gives a one-time code for the self-service link.
    assert re.search(r"Your code is [A-Z0-9]{8}", how), how


async def test_link_reports_or_makes_the_link(gateway: LarkGateway) -> None:
    linked = reply_text(await gateway.say("link"))
    assert linked == "Your Feishu account is linked to the member alice."
    made = reply_text(await gateway.say("link", user=BOB))
    assert made == "Your Feishu account is now linked to the member bob: your email matched."


async def test_mistakes_are_answered_with_usage_or_help(gateway: LarkGateway) -> None:
    usage = reply_text(await gateway.say("ack"))
    assert usage == "Which incident? Give its number.\nUsage: ack <number>"
    unknown = reply_text(await gateway.say("dance"))
    assert unknown.startswith("I don't know the command “dance”.\nCommands, in a direct message")
    assert "• link — how your Feishu account is linked" in unknown


async def test_a_picture_in_a_dm_gets_a_hint(gateway: LarkGateway) -> None:
    reply = await gateway.say("", message_type="image")
    assert reply_text(reply) == "I only read text. Send help for the commands."


async def test_group_chatter_and_bots_are_ignored(gateway: LarkGateway, lark: FakeLark) -> None:
    number = await gateway.ingest()
    chatter = gateway.message_doc(f"ack {number}", chat_type="group")
    lark.add_incoming(chatter["event"]["message"]["message_id"], CHAT, "x")
    assert (await gateway.post(chatter)).status == 200
    from_bot = gateway.message_doc(f"ack {number}")
    from_bot["event"]["sender"]["sender_type"] = "app"
    assert (await gateway.post(from_bot)).status == 200
    await gateway.quiet()
    assert not lark.called("/reply")
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_re_pushed_message_is_answered_once(gateway: LarkGateway, lark: FakeLark) -> None:
    number = await gateway.ingest()
    doc = gateway.message_doc(f"comment {number} looking", event_id="ev-repushed-1")
    asked = doc["event"]["message"]["message_id"]
    lark.add_incoming(asked, FakeLark.p2p_chat(ALICE), "x")
    for _ in range(2):
        r = await gateway.post(doc)
        assert r.status == 200
        await gateway.quiet()
    assert len(lark.replies(asked)) == 1
    comments = [e for e in (await gateway.incident(number))["timeline"] if e["kind"] == "commented"]
    assert len(comments) == 1


@pytest.mark.parametrize(
    ("text", "group", "expected"),
    [
        ("ack 42", False, "ack 42"),
        ("@_user_1 ack 42", False, "ack 42"),
        ("@_user_1: ack 42", True, "ack 42"),
        ("ack 42", True, None),
        ("@_user_1 escalate 42 @_user_2", True, "escalate 42 <at:ou_bob>"),
        ("@_user_1 escalate 42 @_user_9", True, "escalate 42 @_user_9"),
    ],
)
def test_command_text(text: str, group: bool, expected: str | None) -> None:
    mentions = [BOT, mention("@_user_2", BOB, "Bob")]
    assert command_text(text, mentions, group=group) == expected
