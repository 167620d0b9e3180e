"""End to end: alerts become Slack cards, and clicks, modals and commands act on incidents."""

from __future__ import annotations

import json
import time

from cards.render.slack import LINK_ACTION_PREFIX
from tests.adapters.slack.conftest import ALICE_DM, API, CHANNEL, SlackGateway, text_of
from tests.fakes.slack import FakeSlack


async def test_an_alert_posts_the_card_to_the_channel_and_to_the_paged_member(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.wait(lambda: bool(slack.posts(CHANNEL)) and bool(slack.posts(ALICE_DM)))

    [card] = slack.posts(CHANNEL)
    assert card.blocks[0]["type"] == "header"
    assert f"#{number} 5xx ratio above 5% on checkout" in card.blocks[0]["text"]["text"]
    buttons = [e for b in card.blocks if b["type"] == "actions" for e in b["elements"]]
    assert {"ackgate:ack", "ackgate:close", "ackgate:escalate"} <= {b["action_id"] for b in buttons}
    assert [c.args["users"] for c in slack.called("conversations.open")] == ["UALICE"]
    [dm] = slack.posts(ALICE_DM)
    assert "?t=" in text_of(dm.blocks)  # the DM's link is signed for alice
    assert "?t=" not in text_of(card.blocks)


async def test_an_ack_click_is_answered_fast_and_updates_every_card(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    card = await gateway.card()
    await gateway.wait(lambda: bool(slack.posts(ALICE_DM)))
    dm = slack.posts(ALICE_DM)[0]

    started = time.perf_counter()
    r = await gateway.click("ack", number, message_ts=card.ts)
    elapsed = time.perf_counter() - started
    assert r.status == 200
    assert elapsed < 3

    assert (await gateway.incident(number))["acked_by"] == "alice"
    await gateway.wait(
        lambda: bool(card.updates) and "Acknowledged by alice" in text_of(card.blocks)
    )
    await gateway.wait(lambda: bool(dm.updates))
    await gateway.wait(lambda: len(slack.replies(CHANNEL, card.ts)) == 1)
    [reply] = slack.replies(CHANNEL, card.ts)
    assert reply.text == "Acknowledged by alice"
    assert not slack.called("chat.postEphemeral")

    # A second press changes nothing and says so, to the presser only.
    r = await gateway.click("ack", number, message_ts=card.ts)
    assert r.status == 200
    [told] = slack.called("chat.postEphemeral")
    assert told.args["user"] == "UALICE"
    assert "already acknowledged by alice" in told.args["text"]


async def test_close_and_reopen_buttons_act_at_once(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.card()
    assert (await gateway.click("close", number)).status == 200
    assert (await gateway.incident(number))["status"] == "closed"
    assert (await gateway.click("reopen", number)).status == 200
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_comment_opens_a_modal_and_its_submission_comments(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.card()
    payload = gateway.click_payload("comment", number)

    r = await gateway.interact(payload)
    assert r.status == 200
    [opened] = slack.called("views.open")
    assert opened.args["trigger_id"] == payload["trigger_id"]
    [view] = slack.views
    assert view["private_metadata"] == f"v1:comment:{number}"

    values = {"comment": {"text": {"type": "plain_text_input", "value": "disk is full"}}}
    r = await gateway.submit(view, values)
    assert r.status == 200
    assert await r.text() == ""  # an empty 200 closes the modal
    timeline = (await gateway.incident(number))["timeline"]
    assert timeline[-1]["kind"] == "commented"
    assert timeline[-1]["actor"] == "alice"
    assert timeline[-1]["data"] == {"text": "disk is full"}


async def test_escalate_modal_pages_the_next_level_or_the_picked_person(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.card()

    async def escalate(user: str | None) -> tuple[int, str]:
        """Open the modal from the card and submit it with ``user`` picked (or nobody)."""
        assert (await gateway.click("escalate", number)).status == 200
        view = slack.views[-1]
        assert view["private_metadata"] == f"v1:escalate:{number}"
        assert view["blocks"][0]["element"]["type"] == "users_select"
        values = {"target": {"user": {"type": "users_select", "selected_user": user}}}
        r = await gateway.submit(view, values)
        return r.status, await r.text()

    assert await escalate(None) == (200, "")
    assert (await gateway.incident(number))["assignees"] == ["bob"]

    # Someone nobody linked (and whose email matches no member) cannot be paged.
    status, body = await escalate("UNOBODY")
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert "not linked" in answer["errors"]["target"]
    assert (await gateway.incident(number))["assignees"] == ["bob"]

    assert await escalate("UALICE") == (200, "")
    assert (await gateway.incident(number))["assignees"] == ["alice"]


async def test_escalate_past_the_last_level_is_shown_in_the_modal(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    await gateway.card()
    empty = {"target": {"user": {"type": "users_select", "selected_user": None}}}
    await gateway.click("escalate", number)
    assert (await gateway.submit(slack.views[-1], empty)).status == 200  # level 2: bob

    await gateway.click("escalate", number)
    r = await gateway.submit(slack.views[-1], empty)
    answer = await r.json()
    assert answer["response_action"] == "errors"
    assert "no further escalation level" in answer["errors"]["target"]


async def test_a_rest_ack_updates_the_slack_card_too(
    gateway: SlackGateway, slack: FakeSlack
) -> None:
    number = await gateway.ingest()
    card = await gateway.card()
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API
    )
    assert r.status == 200
    await gateway.wait(lambda: "Acknowledged by alice" in text_of(card.blocks))
    await gateway.wait(lambda: len(slack.replies(CHANNEL, card.ts)) == 1)


async def test_the_events_url_check_is_answered(gateway: SlackGateway) -> None:
    body = json.dumps(
        {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV", "type": "url_verification"}
    )
    r = await gateway.post(body, "application/json")
    assert r.status == 200
    assert (await r.json()) == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


async def test_a_link_button_is_only_acknowledged(gateway: SlackGateway, slack: FakeSlack) -> None:
    number = await gateway.ingest()
    await gateway.card()
    payload = gateway.click_payload("ack", number)
    payload["actions"][0].update(
        action_id=f"{LINK_ACTION_PREFIX}0", url="https://ackgate.example.invalid/incidents/1"
    )
    del payload["actions"][0]["value"]
    r = await gateway.interact(payload)
    assert r.status == 200
    assert (await gateway.incident(number))["status"] == "triggered"
    assert not slack.called("chat.postEphemeral")
