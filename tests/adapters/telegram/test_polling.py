"""``mode = "polling"``: updates fetched with getUpdates go through the same handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.adapters.telegram.conftest import (
    ALICE,
    HOOK,
    TelegramGateway,
    gateway_settings,
    start_gateway,
)
from tests.fakes.telegram import FakeTelegram


@pytest.fixture
async def polling(
    telegram: FakeTelegram, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> TelegramGateway:
    """The app in polling mode, with a webhook left over from an earlier setup."""
    telegram.webhook = {"url": "https://old.example.com/hooks/telegram"}
    settings = gateway_settings(tmp_path, telegram, mode="polling", webhook_secret=None)
    return await start_gateway(aiohttp_client, telegram, http, settings)


async def test_a_queued_button_press_is_fetched_and_acts(
    polling: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await polling.opened()
    await polling.wait(lambda: bool(telegram.called("getUpdates")))
    methods = [c.method for c in telegram.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert telegram.webhook is None

    await telegram.queue(telegram.press(ALICE, card, f"v1:ack:{number}"))
    await polling.wait(lambda: bool(telegram.answers))
    assert telegram.answers[0]["text"] == "Acknowledged by alice"
    assert (await polling.incident(number))["acked_by"] == "alice"

    # The next poll confirms the update (offset), so Telegram forgets it.
    await polling.wait(lambda: not telegram.updates)


async def test_a_queued_command_is_answered(
    polling: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, _card = await polling.opened()
    await telegram.queue(telegram.write(ALICE, ALICE, f"/close {number}"))
    await polling.wait(lambda: "Closed by alice" in polling.replies(ALICE))
    assert (await polling.incident(number))["status"] == "closed"


async def test_there_is_no_webhook_route_in_polling_mode(polling: TelegramGateway) -> None:
    r = await polling.client.post(HOOK, json={"update_id": 1})
    assert r.status == 404
