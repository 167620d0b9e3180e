"""What must not act: requests without the webhook's secret token, replays, strangers."""

from __future__ import annotations

import pytest

from tests.adapters.telegram.conftest import ALICE, GROUP, STRANGER, TelegramGateway
from tests.fakes.telegram import FakeTelegram


@pytest.mark.parametrize("secret", [None, "", "not-the-secret", "telegram-webhook-secret_"])
async def test_a_wrong_or_missing_secret_token_is_refused_and_changes_nothing(
    gateway: TelegramGateway, telegram: FakeTelegram, secret: str | None
) -> None:
    number, card = await gateway.opened()
    calls = len(telegram.calls)
    r = await gateway.hook(telegram.press(ALICE, card, f"v1:ack:{number}"), secret=secret)
    assert r.status == 401
    assert (await gateway.incident(number))["status"] == "triggered"
    assert len(telegram.calls) == calls  # not even getMe: nothing was looked at


async def test_a_body_that_is_not_an_update_is_refused(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    far_future = {  # a date no timestamp can hold: PTB raises OverflowError
        "update_id": 7,
        "message": {"message_id": 1, "date": 10**20, "chat": {"id": 1, "type": "private"}},
    }
    for body in ([1, 2], {"update_id": "x", "message": "nope"}, far_future):
        r = await gateway.hook(body)  # type: ignore[arg-type]
        assert r.status == 400, await r.text()


async def test_a_replayed_update_acts_once(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()
    update = telegram.press(ALICE, card, f"v1:ack:{number}")
    for _ in range(2):  # Telegram sends an update again when it missed our answer
        assert (await gateway.hook(update)).status == 200
    assert len(telegram.answers) == 1
    timeline = (await gateway.incident(number))["timeline"]
    assert [e["kind"] for e in timeline].count("acknowledged") == 1

    # The same command replayed is answered once too.
    command = telegram.write(ALICE, ALICE, f"/close {number}")
    for _ in range(2):
        assert (await gateway.hook(command)).status == 200
    assert gateway.replies(ALICE).count("Closed by alice") == 1


async def test_an_unlinked_user_is_told_how_and_nothing_changes(
    gateway: TelegramGateway, telegram: FakeTelegram
) -> None:
    number, card = await gateway.opened()
    await gateway.press(STRANGER, card, "ack", number)
    [answer] = telegram.answers
    assert answer["show_alert"] is True
    assert f"(id {STRANGER}) is not linked" in answer["text"]
    assert "/link" in answer["text"]
    assert (await gateway.incident(number))["status"] == "triggered"

    # Nor are they asked for a comment.
    await gateway.press(STRANGER, card, "comment", number)
    assert "is not linked" in telegram.answers[-1]["text"]
    assert gateway.replies(GROUP) == []

    # Commands tell them too, and questions about incidents stay unanswered.
    for text in (f"/ack {number}", "list", "/who"):
        await gateway.say(STRANGER, STRANGER, text)
    assert len(gateway.replies(STRANGER)) == 3
    assert all("is not linked" in reply for reply in gateway.replies(STRANGER))
    assert (await gateway.incident(number))["status"] == "triggered"

    await gateway.say(STRANGER, STRANGER, "/link")
    how = telegram.posts(STRANGER)[-1]
    assert 'user_id = "999"' in how.shown
    assert "ackgate mapping import" in how.shown
