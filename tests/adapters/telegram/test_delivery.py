"""The outbox and Telegram's limits: 429 honoured, failures retried, webhook registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.adapters.telegram.conftest import (
    ALICE,
    GROUP,
    HOOK,
    SECRET,
    TelegramGateway,
    gateway_settings,
    start_gateway,
)
from tests.fakes.telegram import FakeTelegram

# PTB's own RetryAfter constructor reads its deprecated int ``retry_after`` (PTB 22.2+).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_429_is_rate_limited_and_the_outbox_waits_as_told(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number = await gateway.ingest()
    telegram.fail_next(
        429, "Too Many Requests: retry after 30", retry_after=30, method="sendMessage"
    )

    assert await gateway.deliver() == 2
    assert len(telegram.called("sendMessage")) == 2  # one refused, one sent
    assert len(telegram.cards(GROUP) + telegram.cards(ALICE)) == 1

    gateway.clock.advance(seconds=29)
    assert await gateway.deliver() == 0  # not before Telegram's retry_after
    gateway.clock.advance(seconds=2)
    assert await gateway.deliver() == 1
    assert len(telegram.cards(GROUP)) == len(telegram.cards(ALICE)) == 1
    assert f"v1:ack:{number}" in telegram.cards(GROUP)[0].callback_data()


async def test_a_500_is_retried_and_an_edit_that_changes_nothing_is_fine(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()
    await gateway.press(ALICE, card, "ack", number)
    telegram.fail_next(500, "Internal Server Error", method="editMessageText")
    await gateway.deliver()
    gateway.clock.advance(seconds=1)
    await gateway.deliver()
    assert len(card.edits) == 1
    assert "Acknowledged by alice" in card.shown


async def test_with_a_public_url_the_webhook_is_set_with_its_secret(
    telegram: FakeTelegram, aiohttp_client: Any, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    server = {"public_url": "https://ackgate.example.com/"}
    settings = gateway_settings(tmp_path, telegram, server=server)
    gateway = await start_gateway(aiohttp_client, telegram, http, settings)
    await gateway.wait(lambda: telegram.webhook is not None)
    assert telegram.webhook is not None
    assert telegram.webhook["url"] == f"https://ackgate.example.com{HOOK}"
    assert telegram.webhook["secret_token"] == SECRET
    assert telegram.webhook["allowed_updates"] == ["message", "callback_query"]
