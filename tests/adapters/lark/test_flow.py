"""End to end: alerts become Feishu cards; clicks and form submits act on incidents and answer
within Feishu's 3 seconds; every other copy of the card is updated by the outbox."""

from __future__ import annotations

import time

from tests.adapters.lark.conftest import ALICE, API, BOB, CHAT, LarkGateway
from tests.fakes.lark import FakeLark


async def test_an_alert_posts_the_card_to_the_chat_and_to_the_paged_member(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    number = await gateway.ingest()
    await gateway.drain()

    [card] = lark.posts(CHAT)
    assert card.msg_type == "interactive"
    assert card.content["schema"] == "2.0"
    title = card.content["header"]["title"]["content"]
    assert f"#{number} 5xx ratio above 5% on checkout" in title
    [dm] = lark.posts(FakeLark.p2p_chat(ALICE))
    assert dm.receive_id == ALICE
    [create_dm] = [c for c in lark.called("/im/v1/messages") if c.body["receive_id"] == ALICE]
    assert create_dm.query["receive_id_type"] == "open_id"
    assert create_dm.headers["Authorization"] == f"Bearer {lark.tokens[0]}"
    assert "?t=" in dm.text()  # the DM's link is signed for alice
    assert "?t=" not in card.text()
    assert len(lark.called("tenant_access_token/internal")) == 1  # one token for every call


async def test_an_ack_click_is_answered_with_a_toast_and_the_new_card(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    number = await gateway.ingest()
    await gateway.drain()
    [card] = lark.posts(CHAT)
    [dm] = lark.posts(FakeLark.p2p_chat(ALICE))

    started = time.perf_counter()
    r = await gateway.click("ack", number, message_id=card.message_id)
    elapsed = time.perf_counter() - started
    assert r.status == 200
    assert elapsed < 3
    answer = await r.json()
    assert answer["toast"] == {"type": "success", "content": "Acknowledged by alice"}
    assert answer["card"]["type"] == "raw"
    refreshed = answer["card"]["data"]
    assert refreshed["header"]["subtitle"]["content"].startswith("Acknowledged by alice")
    assert [b["name"] for b in _buttons(refreshed) if b["name"] in ("ack", "close")] == ["close"]
    assert (await gateway.incident(number))["acked_by"] == "alice"

    # Every copy is updated by the outbox, and a line goes in the card's thread.
    await gateway.drain()
    for copy in (card, dm):
        assert len(copy.updates) == 1
        assert copy.content["header"]["subtitle"]["content"].startswith("Acknowledged by alice")
    assert "?t=" in dm.text()  # the update puts alice's own link back in her DM
    [line] = lark.replies(card.message_id)
    assert line.msg_type == "post"
    assert line.in_thread
    assert "Acknowledged by alice" in line.text()

    # A second press changes nothing and says so.
    again = await (await gateway.click("ack", number, message_id=card.message_id)).json()
    assert again["toast"]["type"] == "info"
    assert "already acknowledged by alice" in again["toast"]["content"]


async def test_a_rest_ack_updates_the_lark_cards(gateway: LarkGateway, lark: FakeLark) -> None:
    number = await gateway.ingest()
    await gateway.drain()
    [card] = lark.posts(CHAT)
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions", json={"verb": "ack"}, headers=API
    )
    assert r.status == 200
    await gateway.drain()
    assert "Acknowledged by alice" in card.text()
    [patch] = [c for c in lark.called(f"/messages/{card.message_id}") if c.method == "PATCH"]
    assert patch.headers["Authorization"].startswith("Bearer t-fake-")
    assert len(lark.replies(card.message_id)) == 1


async def test_close_then_reopen(gateway: LarkGateway, lark: FakeLark) -> None:
    number = await gateway.ingest()
    await gateway.drain()
    closed = await (await gateway.click("close", number)).json()
    assert closed["toast"] == {"type": "success", "content": "Closed by alice"}
    assert closed["card"]["data"]["header"]["template"] == "green"
    assert (await gateway.incident(number))["status"] == "closed"
    reopened = await (await gateway.click("reopen", number)).json()
    assert reopened["toast"]["type"] == "success"
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_a_comment_is_submitted_through_the_form(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    number = await gateway.ingest()
    await gateway.drain()
    r = await gateway.click("comment", number, form={"text": "  disk is full  "})
    answer = await r.json()
    assert answer["toast"] == {"type": "success", "content": "Comment added by alice"}
    timeline = (await gateway.incident(number))["timeline"]
    assert timeline[-1]["kind"] == "commented"
    assert timeline[-1]["actor"] == "alice"
    assert timeline[-1]["data"] == {"text": "disk is full"}
    assert timeline[-1]["source"] == "lark"


async def test_an_empty_comment_is_refused_in_a_toast(gateway: LarkGateway, lark: FakeLark) -> None:
    number = await gateway.ingest()
    answer = await (await gateway.click("comment", number, form={"text": " "})).json()
    assert answer == {"toast": {"type": "error", "content": "comment needs args.text"}}
    assert (await gateway.incident(number))["timeline"][-1]["kind"] == "triggered"


async def test_the_escalate_form_pages_the_next_level_or_the_named_member(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    number = await gateway.ingest()
    answer = await (await gateway.click("escalate", number, form={"member": ""})).json()
    assert answer["toast"]["type"] == "success"
    assert (await gateway.incident(number))["assignees"] == ["bob"]

    answer = await (await gateway.click("escalate", number, form={"member": "nobody"})).json()
    assert answer == {"toast": {"type": "error", "content": "No member named nobody"}}

    answer = await (await gateway.click("escalate", number, form={"member": "@alice"})).json()
    assert answer["toast"] == {"type": "success", "content": "Escalated by alice to alice"}
    assert (await gateway.incident(number))["assignees"] == ["alice"]


async def test_a_button_that_is_not_ours_is_answered_not_acted_on(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    number = await gateway.ingest()
    answer = await (await gateway.click("ack", number, value={"a": "v9:ack:1"})).json()
    assert answer["toast"]["type"] == "error"
    assert "no longer valid" in answer["toast"]["content"]
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_an_unknown_incident_is_answered_in_a_toast(gateway: LarkGateway) -> None:
    answer = await (await gateway.click("ack", 999)).json()
    assert answer == {"toast": {"type": "error", "content": "Incident #999 does not exist"}}


async def test_a_member_is_linked_by_email_on_first_click(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    number = await gateway.ingest()
    answer = await (await gateway.click("ack", number, user=BOB)).json()
    assert answer["toast"] == {"type": "success", "content": "Acknowledged by bob"}
    [lookup] = lark.called("/contact/v3/users/batch_get_id")
    assert lookup.query == {"user_id_type": "open_id"}
    assert sorted(lookup.body["emails"]) == ["alice@example.com", "bob@example.com"]
    # Linked now: the next action needs no lookup.
    await gateway.click("comment", number, user=BOB, form={"text": "on it"})
    assert len(lark.called("/contact/v3/users/batch_get_id")) == 1
    assert (await gateway.incident(number))["timeline"][-1]["actor"] == "bob"


def _buttons(card: dict[str, object]) -> list[dict[str, str]]:
    found: list[dict[str, str]] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            if value.get("tag") == "button":
                found.append(value)
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(card)
    return found
