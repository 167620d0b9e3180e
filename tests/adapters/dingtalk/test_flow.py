"""End to end in Stream mode: an alert becomes cards in DingTalk, clicks and commands arrive
over the websocket, and every copy of a card follows the incident."""

from __future__ import annotations

import json
import re

from tests.adapters.dingtalk.conftest import (
    ALICE,
    API,
    BOB,
    CARD_TOPIC,
    CHATBOT_TOPIC,
    GROUP,
    STRANGER,
    DingtalkGateway,
    card_in_answer,
    shown,
)
from tests.fakes.dingtalk import TICKET, FakeDingtalk


async def test_an_alert_posts_a_card_to_the_group_and_to_the_paged_member(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await gateway.opened()
    assert card.data["header"]["title"]["text"].startswith(f"🔴 #{number} ")
    assert card.button_ids() == [
        f"v1:{v}:{number}" for v in ("ack", "close", "escalate", "comment")
    ]
    [dm] = dingtalk.cards_to(ALICE)
    assert f"#{number}" in dm.text()
    # The DM's link is alice's own signed link; the group's is the plain incident page.
    assert "?t=" in dm.text()
    assert "?t=" not in card.text()
    [send] = dingtalk.called("/interactiveCards/send")[:1]
    assert send.body["robotCode"] == "dingfakeclientid"
    assert send.headers["x-acs-dingtalk-access-token"] in dingtalk.tokens


async def test_the_stream_subscribes_to_messages_and_card_clicks(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    await gateway.connected()
    [topics] = dingtalk.subscriptions
    assert {"type": "CALLBACK", "topic": CHATBOT_TOPIC} in topics
    assert {"type": "CALLBACK", "topic": CARD_TOPIC} in topics
    # The fake opens its websocket only for the ticket it handed out: "/", "+" and "=" in
    # it (TICKET) reached it intact through the URL's query.
    assert "/" in TICKET
    assert "+" in TICKET
    assert dingtalk.connections == 1


async def test_a_ping_is_answered_with_its_opaque_data(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    await gateway.connected()
    message_id = await dingtalk.push(dingtalk.ping("op-1"))
    answer = await dingtalk.response(message_id)
    assert answer["code"] == 200
    assert answer["headers"]["messageId"] == message_id
    assert json.loads(answer["data"]) == {"opaque": "op-1"}


async def test_a_click_acks_answers_with_the_card_and_updates_every_copy(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await gateway.opened()
    [dm] = dingtalk.cards_to(ALICE)

    response = await gateway.press("ack", number, card=card)

    answered = shown(card_in_answer(response))
    assert "Acknowledged by alice" in answered
    assert f"v1:ack:{number}" not in answered  # no Acknowledge button once acknowledged
    assert "?t=" not in answered  # a shared card gets no member's signed link
    assert (await gateway.incident(number))["acked_by"] == "alice"

    await gateway.deliver()
    assert dm.updates
    assert "Acknowledged by alice" in dm.text()
    assert card.updates
    assert "Acknowledged by alice" in card.text()
    assert "?t=" in dm.text()  # the DM copy keeps alice's own link
    assert len(dingtalk.called("/robots/interactiveCards", "PUT")) == 2


async def test_a_redelivered_click_acts_once(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, _card = await gateway.opened()
    await gateway.connected()
    frame = dingtalk.frame("CALLBACK", CARD_TOPIC, json.dumps(gateway.click("ack", number)))
    first = await dingtalk.response(await dingtalk.push(frame))
    dingtalk.responses.clear()
    again = await dingtalk.response(await dingtalk.push(frame))
    assert first["code"] == again["code"] == 200
    doc = await gateway.incident(number)
    assert [e["kind"] for e in doc["timeline"]].count("acknowledged") == 1


async def test_a_rest_ack_updates_the_dingtalk_cards(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await gateway.opened()
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API
    )
    assert r.status == 200, await r.text()
    await gateway.deliver()
    assert "Acknowledged by alice" in card.text()
    [dm] = dingtalk.cards_to(ALICE)
    assert "Acknowledged by alice" in dm.text()


async def test_a_command_is_answered_through_the_session_webhook(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, _card = await gateway.opened()
    reply = await gateway.say(f"ack {number}")
    assert reply == "Acknowledged by alice"
    [text] = dingtalk.texts
    assert text.kind == "session"
    assert (await gateway.incident(number))["acked_by"] == "alice"


async def test_a_group_command_mentions_the_sender_and_escalates_to_a_mention(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, _card = await gateway.opened()
    reply = await gateway.say(f"@ackgate escalate {number} @Bob", group=True, at=(BOB,))
    assert "Escalated by alice to bob" in reply
    [text] = dingtalk.texts
    assert text.at == (ALICE,)
    assert "bob" in (await gateway.incident(number))["assignees"]


async def test_a_message_delivered_twice_is_answered_once(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    await gateway.connected()
    data = gateway.message("help", msg_id="msg-twice")
    for _ in range(2):
        answer = await gateway.callback(CHATBOT_TOPIC, data)
        assert answer["code"] == 200
    await gateway.quiet()
    assert len(dingtalk.texts) == 1
    assert "ack 42 — acknowledge #42" in dingtalk.texts[0].content


async def test_an_unknown_user_is_refused_and_told_how_to_link(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await gateway.opened()

    response = await gateway.press("ack", number, user=STRANGER, card=card)

    assert response == {}
    [told] = dingtalk.texts_to("user", STRANGER)
    assert f"staff id {STRANGER}" in told
    assert f'[[members.NAME.identities]]\nplatform = "dingtalk"\nuser_id = "{STRANGER}"' in told
    assert (await gateway.incident(number))["status"] == "triggered"

    reply = await gateway.say("link", user=STRANGER)
    assert 'platform = "dingtalk"' in reply
    assert f'user_id = "{STRANGER}"' in reply
    assert re.search(r"Your code is [A-Z0-9]{8}", reply), reply  # a direct message: safe


async def test_a_member_is_linked_by_mobile_on_first_click(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await gateway.opened()
    response = await gateway.press("ack", number, user=BOB, card=card)
    assert "Acknowledged by bob" in shown(card_in_answer(response))
    # His profile shows his mobile: one call, no mobile asked about.
    [profile] = dingtalk.called("/topapi/v2/user/get")
    assert profile.body["userid"] == BOB
    assert dingtalk.called("/topapi/v2/user/getbymobile") == []
    reply = await gateway.say("link", user=BOB)
    assert reply == "Your DingTalk account is linked to the member bob."


async def test_the_comment_button_tells_how_to_comment(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await gateway.opened()
    assert await gateway.press("comment", number, card=card) == {}
    [told] = dingtalk.texts_to("user", ALICE)
    assert f"comment {number} <your text>" in told


async def test_bad_frames_do_not_end_the_stream(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    await gateway.connected()
    await dingtalk.push_raw("not json")
    await dingtalk.push_raw("[]")
    broken = dingtalk.frame("CALLBACK", CARD_TOPIC, "{not json")
    answer = await dingtalk.response(await dingtalk.push(broken))
    assert answer["code"] == 400
    unknown = dingtalk.frame("CALLBACK", "/v1.0/unknown", "{}")
    assert (await dingtalk.response(await dingtalk.push(unknown)))["code"] == 404
    nobody = dingtalk.frame("CALLBACK", CARD_TOPIC, json.dumps({"content": "{}"}))
    assert (await dingtalk.response(await dingtalk.push(nobody)))["code"] == 400
    message_id = await dingtalk.push(dingtalk.ping("still-here"))
    assert json.loads((await dingtalk.response(message_id))["data"]) == {"opaque": "still-here"}
    assert dingtalk.connections == 1


async def test_a_disconnect_frame_opens_a_new_connection(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    await gateway.connected()
    message_id = await dingtalk.push(dingtalk.disconnect())
    assert (await dingtalk.response(message_id))["code"] == 200
    await gateway.wait(lambda: dingtalk.connections == 2 and dingtalk.connected)
    assert len(dingtalk.subscriptions) == 2
    ping = await dingtalk.push(dingtalk.ping("op-2"))
    assert (await dingtalk.response(ping))["code"] == 200


async def test_there_is_no_http_route_in_stream_mode(gateway: DingtalkGateway) -> None:
    r = await gateway.client.post("/hooks/dingtalk", json={})
    assert r.status == 404


async def test_a_group_card_goes_only_to_the_configured_group(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    await gateway.opened()
    assert {c.conversation for c in dingtalk.cards.values()} == {GROUP, None}


async def test_a_failed_lookup_is_tried_again_next_time(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await gateway.opened()
    dingtalk.fail_next(500, path="/user/get")
    assert await gateway.press("ack", number, user=BOB, card=card) == {}
    [told] = dingtalk.texts_to("user", BOB)
    assert "not linked" in told
    response = await gateway.press("ack", number, user=BOB, card=card)
    assert "Acknowledged by bob" in shown(card_in_answer(response))


async def test_show_list_and_who_answer_in_text(
    gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, _card = await gateway.opened()
    shown_card = await gateway.say(f"show {number}")
    assert shown_card.startswith(f"🔴 #{number} ")
    assert f"/incidents/{number}?t=" in shown_card  # alice's own signed link
    assert f"#{number}" in await gateway.say("list")
    assert "alice" in await gateway.say("who", group=True)
    mistake = await gateway.say("ack")
    assert "Usage: ack <number>" in mistake
