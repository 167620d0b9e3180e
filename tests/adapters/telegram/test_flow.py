"""End to end: alerts become Telegram cards, and buttons act on incidents and update them."""

from __future__ import annotations

from tests.adapters.telegram.conftest import ALICE, API, GROUP, TelegramGateway
from tests.fakes.telegram import FakeTelegram


async def test_an_alert_posts_the_card_to_the_group_and_to_the_paged_member(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number = await gateway.ingest()
    assert await gateway.deliver() == 2

    [card] = telegram.cards(GROUP)
    assert card.shown.startswith(f"🔴 #{number} 5xx ratio above 5% on checkout\nTriggered")
    assert f"<b>#{number} 5xx ratio above 5% on checkout</b>" in card.text  # HTML parse mode
    assert card.callback_data() == [
        f"v1:ack:{number}",
        f"v1:close:{number}",
        f"v1:escalate:{number}",
        f"v1:comment:{number}",
    ]
    [sent] = [c for c in telegram.called("sendMessage") if c.params["chat_id"] == str(GROUP)]
    assert sent.params["parse_mode"] == "HTML"
    # alice is paged in her private chat with the bot, whose id is hers.
    [dm] = telegram.cards(ALICE)
    assert dm.callback_data() == card.callback_data()
    dm_urls = [b["url"] for b in dm.buttons() if "url" in b]
    group_urls = [b["url"] for b in card.buttons() if "url" in b]
    assert "?t=" in dm_urls[0]  # the DM's link is signed for alice
    assert "?t=" not in group_urls[0]


async def test_an_ack_button_acknowledges_and_updates_every_copy(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()
    [dm] = telegram.cards(ALICE)

    await gateway.press(ALICE, card, "ack", number)

    [answer] = telegram.answers
    assert answer["text"] == "Acknowledged by alice"
    doc = await gateway.incident(number)
    assert (doc["status"], doc["acked_by"]) == ("acknowledged", "alice")
    assert card.edits == []  # the outbox refreshes the cards, not the click
    await gateway.deliver()
    for copy in (card, dm):
        [edit] = copy.edits
        assert "Acknowledged by alice" in edit["shown"]
        assert f"v1:ack:{number}" not in copy.callback_data()
        assert f"v1:close:{number}" in copy.callback_data()

    # A second press changes nothing and says so, to the presser only.
    await gateway.press(ALICE, card, "ack", number)
    assert "already acknowledged by alice" in telegram.answers[-1]["text"]
    await gateway.deliver()
    assert len(card.edits) == 1


async def test_close_and_reopen_buttons_act_at_once(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()
    await gateway.press(ALICE, card, "close", number)
    assert (await gateway.incident(number))["status"] == "closed"
    await gateway.deliver()
    assert card.callback_data() == [f"v1:reopen:{number}", f"v1:comment:{number}"]
    await gateway.press(ALICE, card, "reopen", number)
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_rest_ack_updates_the_telegram_cards(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API
    )
    assert r.status == 200
    await gateway.deliver()
    assert "Acknowledged by alice" in card.shown
    assert "Acknowledged by alice" in telegram.cards(ALICE)[0].shown


async def test_a_stale_button_is_answered(gateway: TelegramGateway, telegram: FakeTelegram) -> None:
    number, card = await gateway.opened()
    r = await gateway.hook(telegram.press(ALICE, card, "ack:42"))
    assert r.status == 200
    [answer] = telegram.answers
    assert "no longer valid" in answer["text"]
    assert (await gateway.incident(number))["status"] == "triggered"
