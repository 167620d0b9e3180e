"""Cards and answers in the reader's language: a member's own (`language = "zh"`) in their
DM and in what the bot tells them, the server's everywhere else."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.clock import ManualClock
from gateway.web.app import create_app
from tests.adapters.slack.conftest import (
    ALICE_DM,
    CHANNEL,
    SlackGateway,
    slack_settings,
    text_of,
)
from tests.fakes.slack import FakeSlack
from tests.support import make_settings, settings_doc


async def started(
    aiohttp_client: Any, slack: FakeSlack, tmp_path: Path, **server: Any
) -> SlackGateway:
    """The app with alice reading Chinese (and ``server`` settings overridden)."""
    doc = settings_doc()
    doc["services"]["default"]["notify"] = [{"kind": "slack", "chat": CHANNEL}]
    doc["members"]["alice"]["language"] = "zh"
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        slack=slack_settings(slack),
        services=doc["services"],
        members=doc["members"],
        server={**doc["server"], **server},
        outbox={"poll_interval_s": 0.05, "base_delay_s": 0.01, "max_delay_s": 0.05},
    )
    clock = ManualClock(datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    client = await aiohttp_client(create_app(settings, clock=clock, workers=True))
    return SlackGateway(client, slack)


async def test_a_members_dm_is_in_their_language_the_channel_in_the_servers(
    aiohttp_client: Any, slack: FakeSlack, tmp_path: Path
) -> None:
    gateway = await started(aiohttp_client, slack, tmp_path)
    number = await gateway.ingest()
    card = await gateway.card()
    await gateway.wait(lambda: bool(slack.posts(ALICE_DM)))
    [dm] = slack.posts(ALICE_DM)
    assert "认领" in text_of(dm.blocks)  # alice reads Chinese
    assert "Acknowledge" not in text_of(dm.blocks)
    assert "Acknowledge" in text_of(card.blocks)  # the channel, the server's English
    assert "认领" not in text_of(card.blocks)

    # alice's click is answered in Chinese; the channel card's new status stays English.
    r = await gateway.click("ack", number, message_ts=card.ts)
    assert r.status == 200
    await gateway.wait(
        lambda: bool(card.updates) and "Acknowledged by alice" in text_of(card.blocks)
    )
    await gateway.wait(lambda: bool(dm.updates) and "已由 alice 认领" in text_of(dm.blocks))
    r = await gateway.click("ack", number, message_ts=card.ts)  # again: told, in Chinese
    [told] = slack.called("chat.postEphemeral")
    assert "alice" in told.args["text"]
    assert "已" in told.args["text"]


async def test_a_chinese_server_words_every_card_in_chinese(
    aiohttp_client: Any, slack: FakeSlack, tmp_path: Path
) -> None:
    gateway = await started(aiohttp_client, slack, tmp_path, language="zh")
    await gateway.ingest()
    card = await gateway.card(CHANNEL)
    assert "认领" in text_of(card.blocks)
