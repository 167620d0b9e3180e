"""``ackgate telegram chats``: the chats in pending updates, read without consuming them."""

from __future__ import annotations

import pytest

from adapters.telegram.chats import list_chats
from gateway.config import TelegramSettings
from gateway.errors import Rejected
from tests.adapters.telegram.conftest import ALICE, GROUP, telegram_section
from tests.fakes.telegram import FakeTelegram


def settings(fake: FakeTelegram) -> TelegramSettings:
    return TelegramSettings.model_validate(telegram_section(fake, mode="polling"))


async def test_lists_each_chat_once_and_leaves_the_updates(telegram: FakeTelegram) -> None:
    for update in (
        telegram.write(ALICE, GROUP, "hello bot"),
        telegram.write(ALICE, ALICE, "/start"),
        telegram.write(ALICE, GROUP, "again"),
    ):
        await telegram.queue(update)

    lines = await list_chats(settings(telegram))

    assert lines == [f"{GROUP}\tsupergroup\tOn-call", f"{ALICE}\tprivate\tAlice"]
    [poll] = telegram.called("getUpdates")
    assert "offset" not in poll.params
    assert len(telegram.updates) == 3  # still there for the gateway


async def test_no_updates_no_chats(telegram: FakeTelegram) -> None:
    assert await list_chats(settings(telegram)) == []


async def test_a_webhook_in_the_way_is_explained(telegram: FakeTelegram) -> None:
    telegram.webhook = {"url": "https://ackgate.example.com/hooks/telegram"}
    with pytest.raises(Rejected) as caught:
        await list_chats(settings(telegram))
    assert "getUpdates works only without" in str(caught.value)
