"""Text commands in private chats and groups, and the ForceReply prompts behind Escalate and
Comment: one command language, answered in the chat it came from."""

from __future__ import annotations

from tests.adapters.telegram.conftest import ALICE, BOB, GROUP, TelegramGateway
from tests.fakes.telegram import BOT_USERNAME, FakeTelegram


async def test_commands_in_a_private_chat_act_and_answer(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()

    await gateway.say(ALICE, ALICE, f"/ack {number}")
    assert gateway.replies(ALICE)[-1] == "Acknowledged by alice"
    assert (await gateway.incident(number))["acked_by"] == "alice"
    await gateway.deliver()
    assert "Acknowledged by alice" in card.shown

    await gateway.say(ALICE, ALICE, "list")  # no slash needed in a private chat
    listed = gateway.replies(ALICE)[-1]
    assert listed.startswith("Open incidents (1):")
    assert f"#{number} 5xx ratio above 5% on checkout" in listed

    await gateway.say(ALICE, ALICE, "/who")
    assert gateway.replies(ALICE)[-1] == (
        f"On call now:\n• service default: alice\nAssigned to open incidents:\n• alice: #{number}"
    )

    await gateway.say(ALICE, ALICE, f"close #{number} rolled back the deploy")
    assert gateway.replies(ALICE)[-1] == "Closed by alice"
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"][-2:]] == ["commented", "closed"]
    assert doc["timeline"][-2]["data"] == {"text": "rolled back the deploy"}


async def test_show_answers_with_the_card_and_link_with_the_member(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, _card = await gateway.opened()
    await gateway.say(ALICE, ALICE, f"/show {number}")
    shown = telegram.posts(ALICE)[-1]
    assert shown.shown.startswith(f"🔴 #{number} 5xx ratio")
    assert f"v1:ack:{number}" in shown.callback_data()
    assert any("?t=" in b.get("url", "") for b in shown.buttons())  # signed for alice

    await gateway.say(ALICE, ALICE, "/link")
    assert gateway.replies(ALICE)[-1] == "Your Telegram account is linked to the member alice."


async def test_a_group_command_may_name_the_bot_and_is_answered_there(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, _card = await gateway.opened()

    await gateway.say(ALICE, GROUP, f"/ack@{BOT_USERNAME} {number}")
    [answer] = gateway.replies(GROUP)
    assert answer == "Acknowledged by alice"
    assert telegram.posts(GROUP)[-1].reply_to is not None  # it quotes the command
    assert (await gateway.incident(number))["acked_by"] == "alice"

    # A command for another bot, and plain talk in the group, are not ours.
    await gateway.say(ALICE, GROUP, f"/close@other_bot {number}")
    await gateway.say(ALICE, GROUP, f"close {number}")
    assert gateway.replies(GROUP) == [answer]
    assert (await gateway.incident(number))["status"] == "acknowledged"


async def test_mistakes_are_answered_with_usage_and_nothing_changes(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, _card = await gateway.opened()
    for text in ("/ack", "/ack forty-two", "/frobnicate 1", f"/comment {number}", "/ack 999"):
        await gateway.say(ALICE, ALICE, text)
    answers = telegram.posts(ALICE)[-5:]
    assert answers[0].shown == "Which incident? Give its number.\nUsage: /ack <number>"
    assert answers[0].text.endswith("<code>/ack &lt;number&gt;</code>")  # escaped HTML
    assert "“forty-two” is not an incident number" in answers[1].shown
    assert "“frobnicate”" in answers[2].shown
    assert f"/ack@{BOT_USERNAME} 42" in answers[2].shown  # the whole help follows
    assert "Usage: /comment <number> <text>" in answers[3].shown
    assert answers[4].shown == "Incident #999 does not exist"
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_start_opens_with_help_in_the_persons_language(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    await gateway.say(ALICE, ALICE, "/start")
    assert gateway.replies(ALICE)[-1].startswith("Commands;")
    await gateway.say(BOB, BOB, "/start")  # bob's Telegram is in Chinese
    assert gateway.replies(BOB)[-1].startswith("命令")


async def test_comment_asks_with_a_force_reply_and_the_reply_comments(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()

    await gateway.press(ALICE, card, "comment", number)
    assert telegram.answers[-1]["text"] == "Reply to my message below."
    [prompt] = [m for m in telegram.posts(GROUP) if m.force_reply]
    assert prompt.force_reply == {
        "force_reply": True,
        "selective": True,
        "input_field_placeholder": f"Comment on #{number}",
    }
    assert prompt.reply_to == card.message_id
    assert f'<a href="tg://user?id={ALICE}">Alice</a>' in prompt.text  # selective: to alice
    assert prompt.shown == f"Alice, reply to this message with your comment on #{number}."

    await gateway.say(ALICE, GROUP, "disk is full <again> & again", reply_to=prompt)
    timeline = (await gateway.incident(number))["timeline"]
    assert (timeline[-1]["kind"], timeline[-1]["actor"]) == ("commented", "alice")
    assert timeline[-1]["data"] == {"text": "disk is full <again> & again"}
    assert gateway.replies(GROUP)[-1] == "Comment added by alice"


async def test_escalate_asks_whom_and_pages_the_next_level_or_the_member_named(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()

    async def escalate(answer: str) -> str:
        await gateway.press(ALICE, card, "escalate", number)
        prompt = [m for m in telegram.posts(GROUP) if m.force_reply][-1]
        assert "the member to page" in prompt.shown
        await gateway.say(ALICE, GROUP, answer, reply_to=prompt)
        return gateway.replies(GROUP)[-1]

    assert await escalate("next") == "Escalated by alice to bob"
    assert (await gateway.incident(number))["assignees"] == ["bob"]
    assert await escalate("nobody-here") == "No member named nobody-here"
    assert await escalate("@alice") == "Escalated by alice to alice"
    assert (await gateway.incident(number))["assignees"] == ["alice"]

    # bob (linked) was paged in his private chat, with the card.
    await gateway.deliver()
    assert telegram.cards(BOB)


async def test_a_reply_to_anything_else_is_not_a_prompt_answer(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()
    await gateway.say(ALICE, GROUP, "looking", reply_to=card)  # a reply to the card itself
    assert gateway.replies(GROUP) == []
    assert [e["kind"] for e in (await gateway.incident(number))["timeline"]] == ["triggered"]
