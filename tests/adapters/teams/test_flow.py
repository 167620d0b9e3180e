"""End to end: alerts become Teams cards, and card actions act on incidents and update them."""

from __future__ import annotations

from tests.adapters.teams.conftest import ALICE, API, BOB, TeamsGateway
from tests.fakes.teams import CHANNEL, TENANT, FakeTeams


async def test_an_alert_posts_the_card_to_the_channel_and_to_the_paged_member(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number = await gateway.ingest()
    assert await gateway.deliver() == 2

    [card] = teams.cards(CHANNEL)
    assert card.text.startswith(f"🔴 #{number} 5xx ratio above 5% on checkout\nTriggered")
    assert card.card is not None
    assert card.card["version"] == "1.5"
    assert card.verbs() == ["ack", "close", "escalate", "comment"]
    assert card.current["summary"].startswith(f"🔴 #{number}")
    # alice is paged in her 1:1 chat with the bot, opened for her in her tenant.
    [opened] = [c for c in teams.calls if c.path == "/v3/conversations"]
    assert opened.body["members"] == [{"id": ALICE.aad_object_id}]
    assert opened.body["tenantId"] == TENANT
    [dm] = teams.cards(teams.personal_chat(ALICE))
    assert dm.verbs() == card.verbs()
    # Every call to the Bot Connector carried the token the token endpoint gave out.
    assert {c.authorization for c in teams.connector_calls()} == {"Bearer fake-outbound-token-1"}
    dm_urls = [a["url"] for a in dm.card["body"][-1]["actions"]]  # type: ignore[index]
    channel_urls = [a["url"] for a in card.card["body"][-1]["actions"]]
    assert "?t=" in dm_urls[0]  # the 1:1 copy's link is signed for alice
    assert "?t=" not in channel_urls[0]


async def test_an_ack_action_answers_with_the_new_card_and_updates_every_copy(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, card = await gateway.opened()
    [dm] = teams.cards(teams.personal_chat(ALICE))

    answer = await gateway.press(ALICE, card, "ack", number)

    assert (answer["statusCode"], answer["type"]) == (
        200,
        "application/vnd.microsoft.card.adaptive",
    )
    shown = answer["value"]
    assert shown["version"] == "1.5"
    assert "Acknowledged by alice" in shown["body"][0]["items"][1]["inlines"][0]["text"]
    doc = await gateway.incident(number)
    assert (doc["status"], doc["acked_by"]) == ("acknowledged", "alice")
    assert card.updates == []  # the answer replaced the clicked card; the outbox does the rest
    await gateway.deliver()
    for copy in (card, dm):
        [update] = copy.updates
        assert update["id"] == copy.id
        assert "Acknowledged by alice" in copy.text
        assert copy.verbs() == ["close", "escalate", "comment"]
    # thread_replies: a line in the card's thread, and under the 1:1 copy.
    assert teams.replies(CHANNEL) == ["Acknowledged by alice"]
    [reply] = [p for p in teams.in_conversation(CHANNEL) if p.reply_to]
    assert reply.conversation == f"{CHANNEL};messageid={card.id}"

    # Pressed again: nothing changes; the answer is the card as it is.
    again = await gateway.press(ALICE, card, "ack", number)
    assert again == answer
    timeline = (await gateway.incident(number))["timeline"]
    assert [e["kind"] for e in timeline].count("acknowledged") == 1
    await gateway.deliver()
    assert len(card.updates) == 1


async def test_escalate_and_comment_forms_send_their_inputs(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, card = await gateway.opened()
    answer = await gateway.press(ALICE, card, "comment", number, comment="  rolling back  ")
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    answer = await gateway.press(ALICE, card, "escalate", number, member="bob")
    assert answer["type"] == "application/vnd.microsoft.card.adaptive"
    doc = await gateway.incident(number)
    assert doc["assignees"] == ["bob"]
    [comment] = [e for e in doc["timeline"] if e["kind"] == "commented"]
    assert comment["data"]["text"] == "rolling back"
    # An empty comment is refused, and said so.
    refused = await gateway.press(ALICE, card, "comment", number, comment=" ")
    assert refused["type"] == "application/vnd.microsoft.activity.message"


async def test_close_then_reopen(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, card = await gateway.opened()
    answer = await gateway.press(BOB, card, "close", number)
    assert "Closed by bob" in answer["value"]["body"][0]["items"][1]["inlines"][0]["text"]
    await gateway.deliver()
    assert card.verbs() == ["reopen", "comment"]
    await gateway.press(BOB, card, "reopen", number)
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_rest_ack_updates_the_teams_cards(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, card = await gateway.opened()
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API
    )
    assert r.status == 200
    await gateway.deliver()
    assert "Acknowledged by alice" in card.text
    assert "Acknowledged by alice" in teams.cards(teams.personal_chat(ALICE))[0].text
    assert [c.method for c in teams.connector_calls()].count("PUT") == 2


async def test_a_refresh_shows_the_card_as_it_is_now(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, card = await gateway.opened()
    await gateway.client.post(f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API)
    response = await gateway.hook(teams.invoke(BOB, card, "refresh", {"n": number}))
    answer = await response.json()
    assert "Acknowledged by alice" in answer["value"]["body"][0]["items"][1]["inlines"][0]["text"]
    missing = await gateway.hook(teams.invoke(BOB, card, "refresh", {"n": 999}))
    assert (await missing.json())["value"] == "Incident #999 does not exist"


async def test_a_stale_button_is_answered(gateway: TeamsGateway, teams: FakeTeams) -> None:
    number, card = await gateway.opened()
    response = await gateway.hook(teams.invoke(ALICE, card, "ack", {"a": "ack:42"}))
    assert response.status == 200
    answer = await response.json()
    assert answer["type"] == "application/vnd.microsoft.activity.message"
    assert "no longer valid" in answer["value"]
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_an_old_clients_submit_acts_and_is_answered(
    gateway: TeamsGateway, teams: FakeTeams
) -> None:
    number, _card = await gateway.opened()
    await gateway.say(ALICE, "", conversation=CHANNEL, value={"a": f"v1:ack:{number}"})
    assert (await gateway.incident(number))["status"] == "acknowledged"
    assert teams.replies(CHANNEL) == ["Acknowledged by alice"]
