"""Text commands: in a 1:1 chat with the bot, or after @mentioning it in a channel."""

from __future__ import annotations

import re

from tests.adapters.teams.conftest import ALICE, BOB, MALLORY, TeamsGateway
from tests.fakes.teams import CHANNEL, FakeTeams, Posted


def link_of(message: Posted) -> str:
    """The card's first link (Open incident)."""
    assert message.card is not None
    [links] = [e for e in message.card["body"] if e["type"] == "ActionSet"]
    return str(links["actions"][0]["url"])


async def test_ack_in_a_personal_chat(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, _card = await gateway.opened()
    await gateway.say(ALICE, f"ack {number}")
    assert teams.replies(teams.personal_chat(ALICE)) == ["Acknowledged by alice"]
    assert (await gateway.incident(number))["acked_by"] == "alice"
    # The answer is a reply to alice's message, as plain text.
    [reply] = [p for p in teams.in_conversation(teams.personal_chat(ALICE)) if p.reply_to]
    assert reply.activity["textFormat"] == "plain"


async def test_a_channel_command_after_the_bots_mention(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, _card = await gateway.opened()
    thread = f"{CHANNEL};messageid=1700000000999"
    await gateway.say(
        BOB, f"<at>ackgate</at> close {number} rolled back", conversation=thread, mentions=("bot",)
    )
    doc = await gateway.incident(number)
    assert (doc["status"], doc["closed_by"]) == ("closed", "bob")
    assert doc["timeline"][-2]["data"]["text"] == "rolled back"  # the note came first
    [reply] = [p for p in teams.in_conversation(CHANNEL) if p.reply_to]
    assert (reply.conversation, reply.text) == (thread, "Closed by bob")


async def test_escalate_to_a_mentioned_person(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, _card = await gateway.opened()
    await gateway.say(
        ALICE,
        f"<at>ackgate</at> escalate {number} <at>Bob Brown</at>",
        conversation=CHANNEL,
        mentions=("bot", BOB),
    )
    assert teams.replies(CHANNEL) == ["Escalated by alice to bob"]
    assert (await gateway.incident(number))["assignees"] == ["bob"]
    # The mention names a 29: id, identities name object ids: the roster tells one from the
    # other. Someone not linked is said so.
    await gateway.say(
        ALICE,
        f"escalate {number} <at>Mallory</at>",
        conversation=CHANNEL,
        mentions=(MALLORY,),
    )
    assert teams.replies(CHANNEL)[-1] == "Mallory is not linked to an ackgate member yet."


async def test_list_who_show_and_help(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, _card = await gateway.opened()
    chat = teams.personal_chat(ALICE)
    await gateway.say(ALICE, "list")
    assert teams.replies(chat)[-1].startswith("Open incidents (1):\n• 🔴 #1 5xx ratio")
    await gateway.say(ALICE, "who")
    assert "• alice: #1" in teams.replies(chat)[-1]
    await gateway.say(ALICE, f"show {number}")
    [shown] = [p for p in teams.in_conversation(chat) if p.card is not None and p.reply_to]
    assert shown.text.startswith(f"🔴 #{number} 5xx ratio")
    assert "?t=" in link_of(shown)  # in her 1:1 chat, the link acts as alice
    await gateway.say(ALICE, f"show {number}", conversation=CHANNEL)
    [shared] = [p for p in teams.in_conversation(CHANNEL) if p.card is not None and p.reply_to]
    assert link_of(shared) == f"http://127.0.0.1:8080/incidents/{number}"
    await gateway.say(ALICE, "help")
    assert teams.replies(chat)[-1].startswith("Commands, in a chat with me")
    assert "chat =" not in teams.replies(chat)[-1]  # a 1:1 chat is not a destination
    await gateway.say(ALICE, "<at>ackgate</at> help", conversation=CHANNEL, mentions=("bot",))
    assert f'chat = "{teams.chat(CHANNEL)}"' in teams.replies(CHANNEL)[-1]
    await gateway.say(ALICE, "ack")
    assert teams.replies(chat)[-1] == "Which incident? Give its number.\nUsage: ack <number>"
    await gateway.say(ALICE, "dance")
    assert teams.replies(chat)[-1].startswith("I don't know the command “dance”.\nCommands")


async def test_an_unlinked_user_is_told_how_and_nothing_changes(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, card = await gateway.opened()
    answer = await gateway.press(MALLORY, card, "ack", number)
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert f"({MALLORY.aad_object_id}) is not linked" in answer["value"]
    assert f'user_id = "{MALLORY.aad_object_id}"' in answer["value"]

    chat = teams.personal_chat(MALLORY)
    for text in (f"ack {number}", "list", "who"):
        await gateway.say(MALLORY, text)
    assert len(teams.replies(chat)) == 3
    assert all("is not linked" in reply for reply in teams.replies(chat))
    assert (await gateway.incident(number))["status"] == "triggered"

    await gateway.say(MALLORY, "link")
    how = teams.replies(chat)[-1]
    assert f'platform = "teams"\nuser_id = "{MALLORY.aad_object_id}"' in how
    assert "ackgate mapping import" in how
    assert re.search(r"Your code is [A-Z0-9]{8}", how), how  # a 1:1 chat: safe to give
    await gateway.say(ALICE, "link")
    assert teams.replies(teams.personal_chat(ALICE)) == [
        "Your Teams account is linked to the member alice."
    ]


async def test_a_bare_object_id_reaches_the_member_once_teams_said_where(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    """bob's identity has no service URL: his 1:1 chat is found once he has written."""
    await gateway.say(BOB, "help")
    number, card = await gateway.opened()
    answer = await gateway.press(ALICE, card, "escalate", number, member="bob")
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    await gateway.deliver()
    [page] = teams.cards(teams.personal_chat(BOB))
    assert page.verbs() == ["ack", "close", "escalate", "comment"]


async def test_joining_a_channel_tells_its_chat_id(gateway: TeamsGateway, teams: FakeTeams) -> None:
    response = await gateway.hook(teams.added(ALICE))
    assert response.status == 200
    [hello] = teams.replies(CHANNEL)
    assert hello.startswith("Hello! I post ackgate incident cards")
    assert f'chat = "{teams.chat(CHANNEL)}"' in hello
