"""What arrives at ``/hooks/lark`` is checked before anything changes: the URL check, the
signature, the encryption, the verification token, the timestamp window and replays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from adapters.lark.inbound import PATH, add_routes
from gateway.config import LarkSettings
from tests.adapters.lark.conftest import (
    ENCRYPT_KEY,
    STRANGER,
    VERIFICATION_TOKEN,
    LarkGateway,
    build_gateway,
    gateway_settings,
    sign,
)
from tests.fakes.lark import APP_ID, APP_SECRET, FakeLark

CHALLENGE = {
    "challenge": "ch-3eZbrw1aBm2rZgRN",
    "token": VERIFICATION_TOKEN,
    "type": "url_verification",
}


async def unchanged(gateway: LarkGateway, number: int) -> None:
    """The incident is as the alert left it: triggered, nothing on its timeline but that."""
    doc = await gateway.incident(number)
    assert doc["status"] == "triggered"
    assert [e["kind"] for e in doc["timeline"]] == ["triggered"]


async def test_the_url_check_is_answered(gateway: LarkGateway) -> None:
    r = await gateway.post(CHALLENGE)
    assert r.status == 200
    assert await r.json() == {"challenge": "ch-3eZbrw1aBm2rZgRN"}


async def test_the_url_check_needs_the_token(gateway: LarkGateway) -> None:
    r = await gateway.post({**CHALLENGE, "token": "guessed"})
    assert r.status == 401
    assert "challenge" not in await r.text()


async def test_an_unencrypted_body_is_refused_when_a_key_is_set(gateway: LarkGateway) -> None:
    r = await gateway.post(CHALLENGE, encrypted=False)
    assert r.status == 401


async def test_a_forged_signature_changes_nothing(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    r = await gateway.click("ack", number, signature="0" * 64)
    assert r.status == 401
    await unchanged(gateway, number)


async def test_a_body_signed_for_another_body_changes_nothing(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    ts = str(int(gateway.clock.now().timestamp()))
    forged = sign(ts, "n", json.dumps({"encrypt": "x"}).encode())
    r = await gateway.post(gateway.click_doc("close", number), timestamp=int(ts), signature=forged)
    assert r.status == 401
    await unchanged(gateway, number)


async def test_another_encrypt_key_changes_nothing(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    r = await gateway.post(gateway.click_doc("ack", number), key="someone-elses-key")
    assert r.status == 401
    await unchanged(gateway, number)


async def test_a_wrong_verification_token_changes_nothing(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    r = await gateway.post(gateway.click_doc("ack", number, token="guessed-token"))
    assert r.status == 401
    await unchanged(gateway, number)


@pytest.mark.parametrize("offset_s", [-6 * 60, 6 * 60])
async def test_a_request_outside_the_five_minutes_changes_nothing(
    gateway: LarkGateway, offset_s: int
) -> None:
    number = await gateway.ingest()
    ts = int(gateway.clock.now().timestamp()) + offset_s
    r = await gateway.post(gateway.click_doc("ack", number), timestamp=ts)
    assert r.status == 401
    assert "5-minute" in (await r.json())["error"]
    await unchanged(gateway, number)


async def test_a_request_four_minutes_old_is_fine(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    ts = int(gateway.clock.now().timestamp()) - 4 * 60
    r = await gateway.post(gateway.click_doc("ack", number), timestamp=ts)
    assert r.status == 200
    assert (await gateway.incident(number))["status"] == "acknowledged"


async def test_unsigned_requests_are_refused(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    body = json.dumps({"encrypt": "abc"}).encode()
    r = await gateway.client.post(PATH, data=body, headers={"Content-Type": "application/json"})
    assert r.status == 401
    await unchanged(gateway, number)


async def test_a_replayed_event_changes_nothing(gateway: LarkGateway) -> None:
    number = await gateway.ingest()
    doc = gateway.click_doc("close", number, event_id="ev-replayed-0001")
    first = await gateway.post(doc)
    assert (await first.json())["toast"]["type"] == "success"
    r = await gateway.client.post(
        f"/v1/incidents/{number}/actions",
        json={"verb": "reopen"},
        headers={"Authorization": "Bearer example-api-token"},
    )
    assert r.status == 200

    replay = await gateway.post(doc)  # freshly signed, same event
    assert replay.status == 200
    assert await replay.json() == {}
    assert (await gateway.incident(number))["status"] == "triggered"


async def test_an_unlinked_user_is_refused_and_told_how(
    gateway: LarkGateway, lark: FakeLark
) -> None:
    number = await gateway.ingest()
    answer = await (await gateway.click("ack", number, user=STRANGER)).json()
    assert answer["toast"]["type"] == "error"
    assert "Your Feishu account is not linked" in answer["toast"]["content"]
    assert "card" not in answer
    await unchanged(gateway, number)
    # The stranger's next click does not look them up again.
    await gateway.click("close", number, user=STRANGER)
    assert len(lark.called("/contact/v3/users/batch_get_id")) == 1
    await unchanged(gateway, number)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", json.dumps({"encrypt": 42}).encode()],
    ids=["not-json", "array", "encrypt-not-a-string"],
)
async def test_malformed_bodies_are_4xx(gateway: LarkGateway, body: bytes) -> None:
    ts = str(int(gateway.clock.now().timestamp()))
    headers = {
        "X-Lark-Request-Timestamp": ts,
        "X-Lark-Request-Nonce": "n",
        "X-Lark-Signature": sign(ts, "n", body),
    }
    r = await gateway.client.post(PATH, data=body, headers=headers)
    assert 400 <= r.status < 500


async def test_a_callback_without_an_operator_is_400(gateway: LarkGateway) -> None:
    doc = gateway.click_doc("ack", 1)
    del doc["event"]["operator"]
    r = await gateway.post(doc)
    assert r.status == 400


async def test_other_events_are_acknowledged_and_ignored(gateway: LarkGateway) -> None:
    r = await gateway.post(gateway.envelope("im.chat.member.bot.added_v1", {"chat_id": "oc_x"}))
    assert r.status == 200
    assert await r.json() == {}


async def test_with_a_token_only_plain_events_are_checked_by_their_token(
    aiohttp_client: Any, lark: FakeLark, tmp_path: Path
) -> None:
    make = build_gateway(gateway_settings(tmp_path, lark, encrypt_key=None))
    async for gateway in make(aiohttp_client, lark):
        number = await gateway.ingest()
        r = await gateway.post(gateway.click_doc("ack", number, token="guessed"), encrypted=False)
        assert r.status == 401
        r = await gateway.post(gateway.click_doc("ack", number), key="some-key")
        assert r.status == 401  # an encrypted body Feishu would not send without a key
        r = await gateway.post(gateway.click_doc("ack", number), encrypted=False)
        assert r.status == 200
        assert (await gateway.incident(number))["acked_by"] == "alice"
        r = await gateway.post(CHALLENGE, encrypted=False)
        assert await r.json() == {"challenge": CHALLENGE["challenge"]}


async def test_with_a_key_only_the_key_is_the_proof(
    aiohttp_client: Any, lark: FakeLark, tmp_path: Path
) -> None:
    make = build_gateway(gateway_settings(tmp_path, lark, verification_token=None))
    async for gateway in make(aiohttp_client, lark):
        number = await gateway.ingest()
        r = await gateway.post(gateway.click_doc("ack", number, token="anything"))
        assert r.status == 200
        r = await gateway.post(gateway.click_doc("close", number), signature="f" * 64)
        assert r.status == 401
        assert (await gateway.incident(number))["status"] == "acknowledged"


def settings(**overrides: Any) -> LarkSettings:
    base = {"app_id": APP_ID, "app_secret": APP_SECRET, "verification_token": "v", **overrides}
    return LarkSettings.model_validate(base)


def test_an_unguarded_webhook_is_a_config_error_and_a_long_connection_needs_no_secret() -> None:
    with pytest.raises(ValidationError, match="encrypt_key") as refused:
        settings(verification_token=None)
    assert "long_connection" in str(refused.value)  # the way out is named
    add_routes(web.Application(), settings(verification_token=None, encrypt_key=ENCRYPT_KEY))
    alone = settings(mode="long_connection", verification_token=None)
    assert not alone.webhook_guarded
    app = web.Application()
    add_routes(app, alone)
    assert [r.canonical for r in app.router.resources()] == []  # no way to prove a POST
    app = web.Application()
    add_routes(app, settings(mode="long_connection"))
    assert [r.canonical for r in app.router.resources()] == [PATH]
