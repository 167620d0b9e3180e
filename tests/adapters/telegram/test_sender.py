"""TelegramSender against the fake Bot API: what it posts and edits, and how errors map."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from adapters.telegram.errors import call
from adapters.telegram.sender import TelegramSender, reply_line
from adapters.telegram.transport import make_bot
from gateway.config import TelegramSettings
from gateway.domain import Incident, Severity, Status
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from gateway.wire import card_json
from tests.adapters.telegram.conftest import ALICE, GROUP, telegram_section
from tests.fakes.telegram import FakeTelegram

# PTB's own RetryAfter constructor reads its deprecated int ``retry_after`` (PTB 22.2+).
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
INCIDENT = Incident(
    number=7,
    title="Disk <full> on db-1 & more",
    description="",
    severity=Severity.CRITICAL,
    status=Status.TRIGGERED,
    service="default",
    integration="prometheus",
    created_at=NOW,
    updated_at=NOW,
    assignees=("alice",),
)
ACK_ENTRY = {
    "at": "2026-03-01T10:02:00Z",
    "kind": "acknowledged",
    "actor": "alice",
    "source": "telegram",
    "data": {},
}


def job(destination: dict[str, Any], op: str = "post", **payload: Any) -> Job:
    doc = {
        "op": op,
        "incident": card_json(INCIDENT),
        "url": "https://ackgate.example.invalid/incidents/7",
        **payload,
    }
    return Job(
        delivery_id=1,
        incident_id=7,
        channel="telegram",
        destination=destination,
        payload=doc,
        attempt=1,
    )


def sender(fake: FakeTelegram, session: aiohttp.ClientSession, **overrides: Any) -> TelegramSender:
    settings = TelegramSettings.model_validate(telegram_section(fake, **overrides))
    return TelegramSender(settings, session)


async def test_posts_the_card_to_a_group(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    result = await sender(telegram, http).send(job({"chat": str(GROUP), "ref": "x"}))

    [card] = telegram.cards(GROUP)
    assert result == SendResult(message_ref=str(card.message_id), chat_id=str(GROUP))
    assert card.shown.startswith("🔴 #7 Disk <full> on db-1 & more\nTriggered")
    assert "<b>#7 Disk &lt;full&gt; on db-1 &amp; more</b>" in card.text
    [sent] = telegram.called("sendMessage")
    assert sent.params["link_preview_options"] == {"is_disabled": True}


async def test_a_dm_goes_to_the_users_private_chat(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    result = await sender(telegram, http).send(job({"dm": str(ALICE), "member": "alice"}))
    [card] = telegram.cards(ALICE)
    assert result == SendResult(message_ref=str(card.message_id), chat_id=str(ALICE))


async def test_no_dm_when_turned_off(telegram: FakeTelegram, http: aiohttp.ClientSession) -> None:
    result = await sender(telegram, http, dm_assignees=False).send(job({"dm": str(ALICE)}))
    assert result == SendResult()
    assert telegram.calls == []


async def test_an_update_edits_the_card_and_a_reply_answers_it(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    posted = await sender(telegram, http).send(job({"chat": str(GROUP)}))
    acked = card_json(INCIDENT)
    acked.update(status="acknowledged", acked_by="alice", acked_at="2026-03-01T10:02:00Z")
    where = {"chat": str(GROUP), "message": posted.message_ref}
    update = job(where, "update", incident=acked, entry=ACK_ENTRY)

    assert await sender(telegram, http).send(update) == SendResult()
    [card] = telegram.cards(GROUP)
    [edit] = card.edits
    assert "Acknowledged by alice" in edit["shown"]
    assert "v1:ack:7" not in card.callback_data()

    # The same update again (a retry, a late duplicate) is not an error.
    assert await sender(telegram, http).send(update) == SendResult()
    assert len(card.edits) == 1

    reply = job(where, "reply", entry=ACK_ENTRY)
    assert await sender(telegram, http).send(reply) == SendResult()
    [line] = [m for m in telegram.posts(GROUP) if m.reply_to == card.message_id]
    assert line.shown == "Acknowledged by alice"


def test_reply_lines_are_worded_like_slack_thread_replies() -> None:
    comment = {"kind": "commented", "actor": "bob", "data": {"text": "rolled\n back <x>"}}
    assert reply_line(comment) == "bob commented: rolled back <x>"
    assert reply_line({"kind": "triggered"}) is None
    assert reply_line({"kind": "closed", "actor": None}) == "Closed: all alerts resolved"
    assert reply_line({"kind": "acknowledged", "actor": "alice"}, "zh") == "已由 alice 认领"


async def test_429_is_rate_limited_with_retry_after(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    telegram.fail_next(429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RateLimited) as caught:
        await sender(telegram, http).send(job({"chat": str(GROUP)}))
    assert caught.value.retry_after_s == 7.0


@pytest.mark.parametrize(
    ("destination", "code"),
    [
        ({"chat": "-100999"}, "chat_not_found"),
        ({"chat": "@nochannel"}, "chat_not_found"),
        ({"dm": "444"}, "chat_not_found"),
    ],
)
async def test_an_unknown_chat_is_rejected_for_good(
    telegram: FakeTelegram, http: aiohttp.ClientSession, destination: dict[str, Any], code: str
) -> None:
    with pytest.raises(Rejected) as caught:
        await sender(telegram, http).send(job(destination))
    assert caught.value.code == code
    assert not caught.value.retryable
    assert "ackgate telegram chats" in str(caught.value)


@pytest.mark.parametrize("state", ["blocked", "not started"])
async def test_a_user_who_blocked_or_never_started_the_bot_is_rejected(
    telegram: FakeTelegram, http: aiohttp.ClientSession, state: str
) -> None:
    user = telegram.add_user(333, "Carol", started=state != "not started")
    user.blocked = state == "blocked"
    with pytest.raises(Rejected) as caught:
        await sender(telegram, http).send(job({"dm": "333", "member": "carol"}))
    assert caught.value.code == "forbidden"
    assert "press Start" in str(caught.value)


async def test_editing_a_message_that_is_gone_is_rejected(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(Rejected) as caught:
        await sender(telegram, http).send(job({"chat": str(GROUP), "message": "77"}, "update"))
    assert "message to edit not found" in str(caught.value).lower()


async def test_a_wrong_token_is_auth_failed(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    for token in ("123456:wrong-token", "not-a-token"):
        with pytest.raises(AuthFailed):
            await sender(telegram, http, bot_token=token).send(job({"chat": str(GROUP)}))


async def test_5xx_and_unreachable_are_unavailable(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    telegram.fail_next(500, "Internal Server Error")
    with pytest.raises(Unavailable):
        await sender(telegram, http).send(job({"chat": str(GROUP)}))
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = TelegramSettings.model_validate(
        {**telegram_section(telegram), "api_base_url": f"http://127.0.0.1:{port}"}
    )
    with pytest.raises(Unavailable):
        await TelegramSender(settings, http).send(job({"chat": str(GROUP)}))


async def test_the_fake_refuses_callback_data_over_64_bytes_as_telegram_does(
    telegram: FakeTelegram, http: aiohttp.ClientSession
) -> None:
    # python-telegram-bot does not check the limit; the renderer must (and the fake does).
    token = TelegramSettings.model_validate(telegram_section(telegram)).bot_token
    bot = make_bot(token, telegram.url, http, timeout_s=5)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="v1:" + "a" * 62)]])
    with pytest.raises(Rejected) as caught:
        await call(bot.send_message(GROUP, "hi", reply_markup=markup))
    assert "button_data_invalid" in str(caught.value).lower()
