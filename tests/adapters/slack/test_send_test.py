"""`ackgate send-test` on a Slack channel: a test card arrives, with nothing to press."""

from __future__ import annotations

from pathlib import Path

from gateway.sendtest import send_test
from tests.adapters.slack.conftest import CHANNEL, gateway_settings, text_of
from tests.fakes.slack import FakeSlack


async def test_a_test_card_reaches_the_channel_without_buttons(
    slack: FakeSlack, tmp_path: Path
) -> None:
    said = await send_test(gateway_settings(tmp_path, slack), "services.default.notify[0]")
    assert said.startswith(f"OK services.default.notify[0] (slack) in {CHANNEL}"), said
    [card] = slack.posts(CHANNEL)
    assert "ackgate test notice" in text_of(card.blocks)
    assert "ackgate:" not in text_of(card.blocks)  # no Acknowledge for an incident that isn't
