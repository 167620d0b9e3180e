"""One incident, cards on Slack and Telegram at once: a click on either platform refreshes
the card on the other, through the same outbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from adapters.registry import build_senders
from gateway.clock import ManualClock
from gateway.metrics import Metrics
from gateway.notices import catch_up
from gateway.outbox import Dispatcher
from gateway.web.app import create_app
from gateway.web.keys import RUNTIME
from tests.adapters.telegram.conftest import ALICE, GROUP, TelegramGateway, telegram_section
from tests.fakes.slack import API_PREFIX, FakeSlack
from tests.fakes.telegram import FakeTelegram
from tests.support import make_settings, settings_doc

SLACK_TOKEN = "xoxb-cross-platform"
CHANNEL = "C0INC"


async def test_a_telegram_click_refreshes_the_slack_card(
    telegram: FakeTelegram,
    aiohttp_server: Any,
    aiohttp_client: Any,
    http: aiohttp.ClientSession,
    tmp_path: Path,
) -> None:
    slack = FakeSlack(SLACK_TOKEN, "T1")
    slack.add_channel(CHANNEL)
    slack_server = await aiohttp_server(slack.app)
    doc = settings_doc()
    doc["members"]["alice"]["identities"].append({"platform": "telegram", "user_id": str(ALICE)})
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        telegram=telegram_section(telegram),
        slack={
            "bot_token": SLACK_TOKEN,
            "signing_secret": "cross-platform-secret",
            "api_base_url": str(slack_server.make_url(API_PREFIX)),
            "dm_assignees": False,
        },
        members=doc["members"],
        services={
            "default": {
                **doc["services"]["default"],
                "notify": [
                    {"kind": "telegram", "chat": str(GROUP)},
                    {"kind": "slack", "chat": CHANNEL},
                ],
            }
        },
    )
    clock = ManualClock()
    app = create_app(settings, clock=clock, workers=False)
    client = await aiohttp_client(app)
    rt = app[RUNTIME]

    async def on_posted(conn: Any, cards: Any, now: Any) -> bool:
        return await catch_up(conn, settings, cards, now)

    dispatcher = Dispatcher(
        rt.db, build_senders(settings, http), settings.outbox, clock, Metrics(), on_posted=on_posted
    )
    gw = TelegramGateway(client, telegram, dispatcher, clock)
    number = await gw.ingest()
    await gw.deliver()
    [slack_card] = slack.posts(CHANNEL)
    [telegram_card] = telegram.cards(GROUP)
    await gw.press(ALICE, telegram_card, "ack", number)
    await gw.deliver()
    assert (await gw.incident(number))["status"] == "acknowledged"
    assert slack_card.updates, "the Slack card was not refreshed"
    assert "Acknowledged by alice" in json.dumps(slack_card.updates[-1])
