"""Slack fixtures: a fake Slack Web API and the real gateway wired to it, spoken to as Slack.

Every request to ``/hooks/slack`` is signed with the real algorithm (``SignatureVerifier``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from slack_sdk.signature import SignatureVerifier

from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.web.app import create_app
from tests.fakes.slack import API_PREFIX, FakeSlack, Message
from tests.support import fixture, make_settings, settings_doc

TOKEN = "xoxb-test-token"
SECRET = "slack-signing-secret"
TEAM = "T1"
CHANNEL = "C0INC"
ALICE_DM = "DALICE"
HOOK = "/hooks/slack"
INGEST = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}
WAIT_S = 10
SENT_METRIC = 'ackgate_deliveries_total{channel="slack",state="sent"}'


def signed(body: str, *, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    """The headers Slack sends: request timestamp and ``v0=`` HMAC-SHA256 signature."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def slack_settings(fake: FakeSlack, **overrides: Any) -> dict[str, Any]:
    """A ``[slack]`` section pointing at ``fake``."""
    return {
        "bot_token": TOKEN,
        "signing_secret": SECRET,
        "api_base_url": fake.url,
        "workspace": TEAM,
        **overrides,
    }


def gateway_settings(tmp_path: Path, fake: FakeSlack, **slack: Any) -> Settings:
    """The test settings with Slack enabled and the default service's cards in CHANNEL."""
    services = settings_doc()["services"]
    services["default"]["notify"] = [{"kind": "slack", "chat": CHANNEL}]
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        slack=slack_settings(fake, **slack),
        services=services,
        outbox={"poll_interval_s": 0.05, "base_delay_s": 0.01, "max_delay_s": 0.05},
    )


def text_of(blocks: list[Any]) -> str:
    """Every string in ``blocks``, for asserting on what a card says."""
    return json.dumps(blocks, ensure_ascii=False)


class SlackGateway:
    """The real app, with helpers that talk to it the way Slack does."""

    def __init__(self, client: TestClient[Any, Any], fake: FakeSlack) -> None:
        self.client = client
        self.fake = fake
        self._ids = itertools.count(1)

    async def wait(self, predicate: Callable[[], bool]) -> None:
        """Until the fake Slack has seen what ``predicate`` wants (10 s at most)."""
        async with asyncio.timeout(WAIT_S):
            await self.fake.wait_for(predicate)

    async def wait_briefly(self, predicate: Callable[[], bool], seconds: float = 0.5) -> None:
        """Like ``wait``, but raises TimeoutError after ``seconds``: for polling the clock."""
        async with asyncio.timeout(seconds):
            await self.fake.wait_for(predicate)

    async def ingest(self) -> int:
        """Post the Alertmanager fixture; the number of the incident it opened."""
        body = fixture("alertmanager", "firing.json")
        r = await self.client.post("/v1/alerts/prometheus", json=body, headers=INGEST)
        assert r.status == 202, await r.text()
        [number] = (await r.json())["opened"]
        return int(number)

    async def card(self, channel: str = CHANNEL) -> Message:
        """The first card posted in ``channel``, once the outbox has recorded where it is.

        The fake has the message a moment before the outbox stores its ts (after the send
        returns); an action in between would find no card to update.
        """
        await self.wait(lambda: bool(self.fake.posts(channel)))
        await self.recorded(len(self.fake.posts()))
        return self.fake.posts(channel)[0]

    async def recorded(self, sent: int) -> None:
        """Until the outbox has recorded ``sent`` Slack deliveries as sent (``GET /metrics``).

        Polled, because nothing outside the outbox is told; each poll is one request.
        """
        async with asyncio.timeout(WAIT_S):
            while await self._sent() < sent:
                pass

    async def _sent(self) -> float:
        r = await self.client.get("/metrics")
        for line in (await r.text()).splitlines():
            if line.startswith(SENT_METRIC):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    async def incident(self, number: int) -> dict[str, Any]:
        """``GET /v1/incidents/{number}`` as alice's API token."""
        r = await self.client.get(f"/v1/incidents/{number}", headers=API)
        assert r.status == 200, await r.text()
        doc: dict[str, Any] = (await r.json())["incident"]
        return doc

    async def post(
        self,
        body: str,
        content_type: str,
        *,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        secret: str = SECRET,
    ) -> ClientResponse:
        """POST ``body`` to the hook, signed (with ``secret`` at ``timestamp``)."""
        sent = {
            "Content-Type": content_type,
            **signed(body, timestamp=timestamp, secret=secret),
            **(headers or {}),
        }
        return await self.client.post(HOOK, data=body.encode(), headers=sent)

    async def interact(self, payload: dict[str, Any], **kwargs: Any) -> ClientResponse:
        """An interactivity request: a form with one ``payload`` field."""
        body = urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded", **kwargs)

    def click_payload(
        self,
        verb: str,
        number: int,
        *,
        user: str = "UALICE",
        team: str = TEAM,
        channel: str = CHANNEL,
        message_ts: str = "1.000001",
        value: str | None = None,
    ) -> dict[str, Any]:
        """A ``block_actions`` payload for pressing ``verb`` on a card."""
        n = next(self._ids)
        return {
            "type": "block_actions",
            "team": {"id": team, "domain": "fake"},
            "user": {"id": user, "username": user.lower(), "team_id": team},
            "api_app_id": "A1",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
            "trigger_id": f"{n}.{n}.trigger",
            "channel": {"id": channel, "name": "incidents"},
            "message": {"type": "message", "ts": message_ts, "text": "card"},
            "response_url": "https://hooks.slack.invalid/actions/T1/1/x",
            "actions": [
                {
                    "type": "button",
                    "action_id": f"ackgate:{verb}",
                    "block_id": "actions",
                    "value": value if value is not None else f"v1:{verb}:{number}",
                    "action_ts": f"{1_700_000_000 + n}.{n:06d}",
                }
            ],
        }

    async def click(self, verb: str, number: int, **kwargs: Any) -> ClientResponse:
        """Press the ``verb`` button of incident ``number``."""
        return await self.interact(self.click_payload(verb, number, **kwargs))

    async def submit(
        self, view: dict[str, Any], values: dict[str, Any], *, user: str = "UALICE"
    ) -> ClientResponse:
        """Submit the modal ``view`` (as opened through the fake) with these input values."""
        payload = {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "fake"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A1",
            "trigger_id": "9.9.trigger",
            "view": {**view, "state": {"values": values}},
        }
        return await self.interact(payload)

    async def command(self, text: str, *, user: str = "UALICE") -> ClientResponse:
        """The slash command ``/oncall <text>``."""
        n = next(self._ids)
        form = {
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
            "trigger_id": f"{n}.{n}.command",
        }
        return await self.post(urlencode(form), "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], *, event_id: str, retry: int | None = None
    ) -> ClientResponse:
        """An Events API delivery of ``event`` (a retry when ``retry`` is given)."""
        doc = {
            "token": "legacy-verification-token",
            "team_id": TEAM,
            "api_app_id": "A1",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
        }
        headers = {}
        if retry is not None:
            headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(json.dumps(doc), "application/json", headers=headers)

    async def dm(self, text: str, *, event_id: str, retry: int | None = None) -> ClientResponse:
        """alice writes ``text`` to the bot in their DM."""
        event = {
            "type": "message",
            "channel": ALICE_DM,
            "user": "UALICE",
            "text": text,
            "ts": f"{time.time():.6f}",
            "channel_type": "im",
        }
        return await self.event(event, event_id=event_id, retry=retry)


@pytest.fixture
async def slack(aiohttp_server: Any) -> FakeSlack:
    """A fake Slack with CHANNEL, alice and bob (emails as configured) and one stranger."""
    fake = FakeSlack(TOKEN, TEAM)
    fake.add_channel(CHANNEL)
    fake.add_user("UALICE", "alice@example.com")
    fake.add_user("UBOB", "Bob@Example.com")
    fake.add_user("UNOBODY", "nobody@elsewhere.example")
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(API_PREFIX))
    return fake


@pytest.fixture
async def gateway(aiohttp_client: Any, slack: FakeSlack, tmp_path: Path) -> SlackGateway:
    """The real app (outbox running) with Slack pointed at the fake."""
    settings = gateway_settings(tmp_path, slack)
    clock = ManualClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    client = await aiohttp_client(create_app(settings, clock=clock, workers=True))
    return SlackGateway(client, slack)
