"""``mode = "http"``: ``POST /hooks/dingtalk``, signed by DingTalk with the app secret."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adapters.dingtalk.conftest import (
    ALICE,
    STRANGER,
    DingtalkGateway,
    card_in_answer,
    shown,
    sign,
)
from tests.fakes.dingtalk import FakeDingtalk

WINDOW_MS = 5 * 60 * 1000  # ours: DingTalk allows an hour, but its sign does not cover the body


async def test_a_signed_command_is_answered_in_its_conversation(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, _card = await http_gateway.opened()
    r = await http_gateway.post(http_gateway.message(f"close {number} rolled back"))
    assert r.status == 200, await r.text()
    assert await r.json() == {}
    await http_gateway.quiet()
    assert dingtalk.texts_to("session") == ["Closed by alice"]
    doc = await http_gateway.incident(number)
    assert doc["status"] == "closed"
    assert [e["kind"] for e in doc["timeline"]][-2:] == ["commented", "closed"]


async def test_a_signed_click_is_answered_with_the_card(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await http_gateway.opened()
    r = await http_gateway.post(http_gateway.click("ack", number, card=card))
    assert r.status == 200, await r.text()
    assert "Acknowledged by alice" in shown(card_in_answer(await r.json()))
    assert (await http_gateway.incident(number))["acked_by"] == "alice"
    await http_gateway.deliver()
    [dm] = dingtalk.cards_to(ALICE)
    assert "Acknowledged by alice" in dm.text()


@pytest.mark.parametrize(
    "how",
    [
        {"signature": "c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ=="},
        {"secret": "another-secret-0123456789"},
        {"timestamp_shift_ms": -WINDOW_MS - 1_000},
        {"timestamp_shift_ms": WINDOW_MS + 1_000},
    ],
    ids=["forged", "other-secret", "over-5-minutes-old", "over-5-minutes-ahead"],
)
async def test_a_bad_or_stale_signature_is_refused_and_changes_nothing(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk, how: dict[str, Any]
) -> None:
    number, card = await http_gateway.opened()
    before = await http_gateway.incident(number)
    now_ms = int(http_gateway.clock.now().timestamp() * 1000)
    shift = how.pop("timestamp_shift_ms", None)
    timestamp = now_ms + shift if shift is not None else None
    for doc in (
        http_gateway.click("ack", number, card=card),
        http_gateway.message(f"ack {number}"),
    ):
        r = await http_gateway.post(doc, timestamp=timestamp, **how)
        assert r.status == 401, await r.text()
    await http_gateway.quiet()
    assert await http_gateway.incident(number) == before
    assert dingtalk.texts == []


async def test_a_signature_within_five_minutes_is_accepted(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    now_ms = int(http_gateway.clock.now().timestamp() * 1000)
    r = await http_gateway.post(http_gateway.message("help"), timestamp=now_ms - WINDOW_MS + 1_000)
    assert r.status == 200, await r.text()


async def test_an_unsigned_request_is_refused(http_gateway: DingtalkGateway) -> None:
    r = await http_gateway.client.post("/hooks/dingtalk", json=http_gateway.message("help"))
    assert r.status == 401
    ts = str(int(http_gateway.clock.now().timestamp() * 1000))
    r = await http_gateway.client.post(
        "/hooks/dingtalk", json=http_gateway.message("help"), headers={"timestamp": ts}
    )
    assert r.status == 401
    r = await http_gateway.client.post(
        "/hooks/dingtalk", json={}, headers={"timestamp": "soon", "sign": sign("soon")}
    )
    assert r.status == 401


async def test_a_signed_body_that_is_not_json_is_malformed(http_gateway: DingtalkGateway) -> None:
    ts = str(int(http_gateway.clock.now().timestamp() * 1000))
    r = await http_gateway.client.post(
        "/hooks/dingtalk", data=b"{oops", headers={"timestamp": ts, "sign": sign(ts)}
    )
    assert r.status == 400


async def test_an_unknown_user_is_refused(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    number, card = await http_gateway.opened()
    r = await http_gateway.post(http_gateway.click("close", number, user=STRANGER, card=card))
    assert r.status == 200
    assert await r.json() == {}
    [told] = dingtalk.texts_to("user", STRANGER)
    assert "not linked" in told
    r = await http_gateway.post(http_gateway.message(f"ack {number}", user=STRANGER))
    assert r.status == 200
    await http_gateway.quiet()
    [reply] = dingtalk.texts_to("session")
    assert f"staff id {STRANGER}" in reply
    assert (await http_gateway.incident(number))["status"] == "triggered"


async def test_a_foreign_session_webhook_is_never_called(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    doc = http_gateway.message("help", webhook="http://169.254.169.254/latest/meta-data")
    r = await http_gateway.post(doc)
    assert r.status == 200
    await http_gateway.quiet()
    # The answer went through the robot's own API instead.
    assert dingtalk.texts_to("session") == []
    [answer] = dingtalk.texts_to("user", ALICE)
    assert "ack 42" in answer


async def test_an_expired_session_webhook_is_not_used(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    doc = http_gateway.message("help", group=True)
    doc["sessionWebhookExpiredTime"] = int(http_gateway.clock.now().timestamp() * 1000) - 1
    r = await http_gateway.post(doc)
    assert r.status == 200
    await http_gateway.quiet()
    assert dingtalk.texts_to("session") == []
    assert len(dingtalk.texts_to("group")) == 1


async def test_a_picture_is_answered_with_text_only(
    http_gateway: DingtalkGateway, dingtalk: FakeDingtalk
) -> None:
    r = await http_gateway.post(http_gateway.message("", msgtype="picture"))
    assert r.status == 200
    await http_gateway.quiet()
    assert dingtalk.texts_to("session") == ["I only read text. Send help for the commands."]
