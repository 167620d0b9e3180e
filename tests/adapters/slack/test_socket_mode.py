"""Socket Mode: with an app-level token the gateway dials Slack, and envelopes pushed down that
websocket reach the same Bolt listeners as ``POST /hooks/slack`` and are acknowledged."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.clock import ManualClock
from gateway.web.app import create_app
from tests.adapters.slack.conftest import CHANNEL, TEAM, SlackGateway, gateway_settings, text_of
from tests.fakes.slack import APP_TOKEN, FakeSlack


@pytest.fixture
async def socket_gateway(slack: FakeSlack, aiohttp_client: Any, tmp_path: Path) -> SlackGateway:
    """The real app with ``app_token`` set (after the fake, so it is torn down first)."""
    return await _start(aiohttp_client, slack, tmp_path, APP_TOKEN)


async def _start(aiohttp_client: Any, slack: FakeSlack, tmp_path: Path, token: str) -> SlackGateway:
    settings = gateway_settings(tmp_path, slack, app_token=token)
    clock = ManualClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    client = await aiohttp_client(create_app(settings, clock=clock, workers=True))
    return SlackGateway(client, slack)


def command_payload(text: str, *, user: str = "UALICE") -> dict[str, Any]:
    """What a ``/oncall <text>`` slash command carries in a ``slash_commands`` envelope."""
    return {
        "token": "legacy-verification-token",
        "team_id": TEAM,
        "team_domain": "fake",
        "channel_id": CHANNEL,
        "channel_name": "incidents",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/oncall",
        "text": text,
        "api_app_id": "A1",
        "response_url": "https://hooks.slack.invalid/commands/T1/1/x",
        "trigger_id": "1.1.command",
    }


async def acked(gateway: SlackGateway, envelope_id: str) -> dict[str, Any]:
    """The client's acknowledgement of ``envelope_id`` (waited for)."""
    await gateway.wait(lambda: gateway.fake.ack_for(envelope_id) is not None)
    ack = gateway.fake.ack_for(envelope_id)
    assert ack is not None
    return ack


async def test_the_gateway_opens_a_socket_with_the_app_token(
    socket_gateway: SlackGateway, slack: FakeSlack
) -> None:
    await socket_gateway.wait(lambda: bool(slack.sockets))
    [opened] = slack.called("apps.connections.open")
    assert opened.headers["Authorization"] == f"Bearer {APP_TOKEN}"


async def test_an_ack_click_over_the_socket_is_acked_and_acts(
    socket_gateway: SlackGateway, slack: FakeSlack
) -> None:
    gateway = socket_gateway
    number = await gateway.ingest()
    card = await gateway.card()
    await gateway.wait(lambda: bool(slack.sockets))

    payload = gateway.click_payload("ack", number, message_ts=card.ts)
    envelope_id = await slack.push("interactive", payload)
    ack = await acked(gateway, envelope_id)
    assert ack["envelope_id"] == envelope_id

    doc = await gateway.incident(number)
    assert doc["status"] == "acknowledged"
    assert doc["acked_by"] == "alice"
    await gateway.wait(
        lambda: bool(card.updates) and "Acknowledged by alice" in text_of(card.blocks)
    )
    assert any(c.args.get("ts") == card.ts for c in slack.called("chat.update"))


async def test_a_slash_command_over_the_socket_answers_in_its_ack(
    socket_gateway: SlackGateway, slack: FakeSlack
) -> None:
    gateway = socket_gateway
    number = await gateway.ingest()
    card = await gateway.card()
    await gateway.wait(lambda: bool(slack.sockets))

    envelope_id = await slack.push(
        "slash_commands", command_payload(f"ack {number}"), accepts_response_payload=True
    )
    ack = await acked(gateway, envelope_id)
    assert ack["payload"]["text"] == "Acknowledged by alice"
    assert (await gateway.incident(number))["status"] == "acknowledged"
    await gateway.wait(lambda: "Acknowledged by alice" in text_of(card.blocks))


async def test_the_http_hook_still_works_alongside_the_socket(
    socket_gateway: SlackGateway, slack: FakeSlack
) -> None:
    gateway = socket_gateway
    number = await gateway.ingest()
    card = await gateway.card()
    r = await gateway.click("ack", number, message_ts=card.ts)
    assert r.status == 200
    assert (await gateway.incident(number))["acked_by"] == "alice"


async def test_a_refused_app_token_does_not_stop_the_gateway(
    slack: FakeSlack, aiohttp_client: Any, tmp_path: Path
) -> None:
    gateway = await _start(aiohttp_client, slack, tmp_path, "xapp-1-A1-revoked-token")
    await gateway.wait(lambda: bool(slack.called("apps.connections.open")))
    assert not slack.sockets
    number = await gateway.ingest()
    card = await gateway.card()
    assert (await gateway.click("ack", number, message_ts=card.ts)).status == 200
    assert (await gateway.incident(number))["acked_by"] == "alice"
