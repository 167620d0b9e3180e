"""Fallback end to end: Slack refuses the DM for good, the fake Twilio gets the SMS, the
timeline says so; the SMS reply then acknowledges the incident."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from pytest_aiohttp import AiohttpClient, AiohttpServer

from adapters.registry import build_senders
from adapters.twilio import SMS_PATH
from gateway import queries
from gateway.background import fallback_hook
from gateway.clock import ManualClock
from gateway.domain import AlertAction, AlertBatch, AlertEvent, Severity, Status
from gateway.ingest.service import ingest
from gateway.metrics import Metrics
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.fakes.slack import API_PREFIX, FakeSlack
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.support import make_settings

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
PUBLIC = "https://oncall.example.com"
SLACK_TOKEN = "xoxb-test-token"


async def test_a_refused_slack_dm_becomes_an_sms_and_the_reply_acks(
    tmp_path: Path, aiohttp_server: AiohttpServer, aiohttp_client: AiohttpClient
) -> None:
    slack = FakeSlack(SLACK_TOKEN, "T1")
    slack.add_user("UALICE", "alice@example.com")
    slack_server = await aiohttp_server(slack.app)
    twilio = FakeTwilio()
    twilio_server = await aiohttp_server(twilio.app)
    twilio.url = str(twilio_server.make_url("/"))
    account: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "from_number": "+15005550006",
        "api_base_url": twilio.url,
    }
    members = {
        "alice": {
            "name": "Alice",
            "phone": "+15550100001",
            "identities": [{"platform": "slack", "workspace": "T1", "user_id": "UALICE"}],
        },
        "bob": {"name": "Bob"},
    }
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        server={
            "listen": "127.0.0.1:8080",
            "secret_key": "test-secret-key-0123456789",
            "public_url": PUBLIC,
        },
        members=members,
        slack={
            "bot_token": SLACK_TOKEN,
            "signing_secret": "test-signing-secret",
            "api_base_url": str(slack_server.make_url(API_PREFIX)),
            "workspace": "T1",
        },
        sms={"provider": "twilio", "twilio": account},
    )
    app = create_app(settings, clock=ManualClock(NOW), workers=False)
    client = await aiohttp_client(app)
    rt = app[RUNTIME]
    event = AlertEvent("k", AlertAction.TRIGGER, "Disk full on db-1", Severity.CRITICAL)
    number = (await ingest(rt, "prometheus", AlertBatch(events=(event,)))).opened[0]
    slack.fail_next(error="channel_not_found", method="chat.postMessage")
    async with aiohttp.ClientSession() as http:
        dispatcher = Dispatcher(
            rt.db,
            build_senders(settings, http),
            settings.outbox,
            rt.clock,
            Metrics(),
            on_failed=fallback_hook(rt),
        )
        while await dispatcher.run_once():
            pass
    [sms] = twilio.messages
    assert sms.to == "+15550100001"
    assert "Disk full on db-1" in sms.body
    incident = await queries.incident(rt, number)
    assert incident is not None
    [fallback] = [e for e in incident.timeline if e.kind == "fallback"]
    assert fallback.data["failed"] == "slack"
    assert fallback.data["sent_by"] == "sms"
    assert "channel_not_found" in fallback.data["error"]
    api = {"Authorization": "Bearer example-api-token"}
    page = await client.get(f"/incidents/{number}", headers=api)
    assert "Slack DM to alice failed" in await page.text()
    assert "sent by SMS" in await page.text()
    # Alice answers the text with "a": the last incident sent to her phone is acknowledged.
    text = twilio.incoming_sms("+15550100001", "+15005550006", "a")
    reply = await twilio.call_back(client, PUBLIC + SMS_PATH, text)
    assert reply.status == 200
    incident = await queries.incident(rt, number)
    assert incident is not None
    assert incident.status is Status.ACKNOWLEDGED
    assert incident.acked_by == "alice"
