"""End to end: alerts become WeCom cards DM'd to the paged member; clicks act on incidents and
redraw the card with their own response code; other changes reach a card while it holds one."""

from __future__ import annotations

from tests.adapters.wecom.conftest import ALICE, API, BOB, WecomGateway
from tests.fakes.wecom import FakeWecom


async def test_an_alert_dms_the_card_to_the_paged_member(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number = await gateway.ingest()
    assert await gateway.deliver() == 1

    [card] = wecom.cards_of(ALICE)
    assert wecom.cards_of(BOB) == []  # bob is the second level: not paged yet
    [send] = wecom.called("/message/send")
    assert send.body["touser"] == ALICE
    assert send.body["agentid"] == wecom.agent_id
    assert card.task_id.startswith(f"ackgate-{number}-")
    shown = card.now
    assert shown["card_type"] == "button_interaction"
    assert shown["main_title"]["title"].startswith(f"🔴 #{number} 5xx ratio")
    assert shown["main_title"]["desc"] == "Triggered"
    assert card.button_keys() == [
        f"v1:ack:{number}",
        f"v1:close:{number}",
        f"v1:escalate:{number}",
        f"v1:comment:{number}",
        f"v1:refresh:{number}",
    ]
    assert "?t=" in shown["card_action"]["url"]  # alice's signed link to the incident page
    assert wecom.unused_codes(card) == 1  # the send's own update code, kept for later


async def test_an_ack_click_acknowledges_and_redraws_that_card_with_its_code(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()

    await gateway.press(ALICE, card, f"v1:ack:{number}")

    doc = await gateway.incident(number)
    assert (doc["status"], doc["acked_by"]) == ("acknowledged", "alice")
    [update] = wecom.called("/message/update_template_card")
    assert update.body["userids"] == [ALICE]
    assert update.body["template_card"]["task_id"] == card.task_id
    assert card.now["main_title"]["desc"].startswith("Acknowledged by alice")
    assert f"v1:ack:{number}" not in card.button_keys()
    assert wecom.texts_of(ALICE) == []  # the card says it: no message on top
    # The outbox's update finds the card already right, and keeps the send's code.
    await gateway.deliver()
    assert len(card.updates) == 1
    assert wecom.unused_codes(card) == 1

    # So the next change made elsewhere still reaches the card.
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "close"}, headers=API
    )
    assert r.status == 200, await r.text()
    await gateway.deliver()
    assert card.now["main_title"]["desc"].startswith("Closed by alice")
    assert card.button_keys() == [
        f"v1:reopen:{number}",
        f"v1:comment:{number}",
        f"v1:refresh:{number}",
    ]


async def test_a_rest_ack_updates_the_card_with_the_send_code_and_a_later_change_waits(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()

    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API
    )
    assert r.status == 200
    await gateway.deliver()
    assert card.now["main_title"]["desc"].startswith("Acknowledged by alice")
    assert wecom.unused_codes(card) == 0

    # No code left: the close is not drawn, and no second card is sent instead.
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "close"}, headers=API
    )
    assert r.status == 200
    await gateway.deliver()
    assert len(card.updates) == 1
    assert len(wecom.cards_of(ALICE)) == 1
    assert card.now["main_title"]["desc"].startswith("Acknowledged by alice")

    # Refresh spends its click's code on the card as it is now.
    await gateway.press(ALICE, card, f"v1:refresh:{number}")
    assert card.now["main_title"]["desc"].startswith("Closed by alice")
    assert (await gateway.incident(number))["status"] == "closed"


async def test_a_stale_button_acts_on_the_incident_as_it_is_and_says_why(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "close"}, headers=API
    )
    assert r.status == 200
    # The card still offers Acknowledge (say the send's code was lost with a restart).
    gateway.clock.advance(minutes=1)

    await gateway.press(ALICE, card, f"v1:ack:{number}")

    [said] = wecom.texts_of(ALICE)
    assert f"#{number} is closed" in said
    assert card.now["main_title"]["desc"].startswith("Closed by alice")
    assert (await gateway.incident(number))["status"] == "closed"


async def test_close_reopen_and_escalate_buttons_act_at_once(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    await gateway.press(ALICE, card, f"v1:close:{number}")
    assert (await gateway.incident(number))["status"] == "closed"
    gateway.clock.advance(seconds=1)
    await gateway.press(ALICE, card, f"v1:reopen:{number}")
    assert (await gateway.incident(number))["status"] == "triggered"
    gateway.clock.advance(seconds=1)
    await gateway.press(ALICE, card, f"v1:escalate:{number}")
    doc = await gateway.incident(number)
    assert "bob" in doc["assignees"]
    await gateway.deliver()
    [bobs] = wecom.cards_of(BOB)  # bob is paged on WeCom with a card of his own
    assert bobs.task_id != card.task_id


async def test_comment_button_explains_how_to_comment(
    gateway: WecomGateway, wecom: FakeWecom
) -> None:
    number, card = await gateway.opened()
    await gateway.press(ALICE, card, f"v1:comment:{number}")
    [said] = wecom.texts_of(ALICE)
    assert said == f"To comment on #{number}, send me: comment {number} <your text>"
    assert card.updates == []  # nothing changed: the click's code is kept for later
    assert wecom.unused_codes(card) == 2
