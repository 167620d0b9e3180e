"""TelegramBot against a fake Bot API: what it sends to each chat, and how errors map."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.bots.message import BotKind, BotMessage, BotTarget, Digest, Mention, RateLimit
from adapters.bots.telegram import (
    CHAT_NOT_FOUND_HINT,
    KICKED_HINT,
    NOT_FOUND_HINT,
    UNAUTHORIZED_HINT,
    TelegramBot,
)
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from tests.fakes.telegram_bot import TOKEN, FakeTelegramBot, Sent, parse_html

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
URL = "https://ackgate.example.invalid/incidents/42"
GROUP = "-1001234567890"
OTHER_GROUP = "-1009876543210"
ALICE = Mention("alice", "Alice Chen", user_id="777")
BOB = Mention("bob", "Bob Li")
TEXT = "🔴 [CRITICAL] #42 HighErrorRate on checkout\nTriggered 10:00 UTC\nOpen: " + URL
KEYBOARD = {"inline_keyboard": [[{"text": "Open incident", "url": URL}]]}


class Clock:
    """The fake's time, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def notice(**changes: Any) -> BotMessage:
    message = BotMessage(
        number=42,
        title="#42 HighErrorRate on checkout",
        text=TEXT,
        severity="critical",
        status="triggered",
        event="triggered",
        url=URL,
    )
    return dataclasses.replace(message, **changes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def telegram(aiohttp_server: AiohttpServer, clock: Clock) -> FakeTelegramBot:
    fake = FakeTelegramBot(TOKEN, clock=clock)
    fake.add_chat(GROUP)
    fake.add_chat(OTHER_GROUP)
    server = await aiohttp_server(fake.app)
    fake.base = str(server.make_url("")).rstrip("/")
    return fake


def target(
    fake: FakeTelegramBot, *chat_ids: str, token: str | None = TOKEN, url: str | None = None
) -> BotTarget:
    return BotTarget("ops", url or fake.base, token=token, chat_ids=chat_ids or (GROUP,))


async def deliver(
    session: aiohttp.ClientSession, to: BotTarget, message: BotMessage | Digest
) -> None:
    """What the bot sender does: send each request in order, let the kind read each answer."""
    kind = TelegramBot()
    for request in kind.requests(to, message, NOW):
        async with session.request(
            request.method, request.url, json=dict(request.json), headers=dict(request.headers)
        ) as answer:
            kind.check(answer.status, await answer.read(), dict(answer.headers))


async def sent(
    fake: FakeTelegramBot, http: aiohttp.ClientSession, message: BotMessage | Digest
) -> Sent:
    await deliver(http, target(fake), message)
    [one] = fake.messages(GROUP)
    return one


def test_the_kind_and_its_limit() -> None:
    kind: BotKind = TelegramBot()  # mypy checks the protocol here

    assert kind.name == "telegram_bot"
    assert kind.limit == RateLimit(20, 60.0)


async def test_one_html_message_per_chat_with_a_url_button(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, target(telegram, GROUP, OTHER_GROUP), notice())

    [first] = telegram.messages(GROUP)
    [second] = telegram.messages(OTHER_GROUP)
    assert first.text == second.text
    assert first.text == (
        f'<b>#42 HighErrorRate on checkout</b>\n{TEXT}\n\n<a href="{URL}">Open incident</a>'
    )
    assert first.shown == f"#42 HighErrorRate on checkout\n{TEXT}\n\nOpen incident"
    assert first.parse_mode == "HTML"
    assert first.disable_web_page_preview
    assert first.reply_markup == KEYBOARD  # a URL button only: no callback_data
    [(_, params), _] = telegram.calls
    assert params["chat_id"] == int(GROUP)


async def test_mentions_link_numeric_ids_and_name_the_others_once(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    carol = Mention("carol", "Carol", user_id="carol_tg")  # not a numeric id
    message = notice(mentions=(ALICE, BOB, carol, ALICE), at_all=True)

    one = await sent(telegram, http, message)

    assert '\n\n<a href="tg://user?id=777">Alice Chen</a> @Bob Li @Carol\n<a href=' in one.text
    assert "@all" not in one.text  # Telegram has no such mention


async def test_our_text_is_escaped_for_html_mode(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    title = "#42 <script>alert(1)</script> & co"
    url = 'https://ackgate.example.invalid/incidents/42?a=1&b="2"'
    message = notice(title=title, text="p99 > 2s & rising <b>", url=url)

    one = await sent(telegram, http, message)  # the fake refuses unknown tags

    assert one.text.startswith("<b>#42 &lt;script&gt;alert(1)&lt;/script&gt; &amp; co</b>\n")
    assert "p99 &gt; 2s &amp; rising &lt;b&gt;" in one.text
    assert '<a href="https://ackgate.example.invalid/incidents/42?a=1&amp;b=&quot;2&quot;">' in (
        one.text
    )
    assert one.shown.startswith(title + "\np99 > 2s & rising <b>")


async def test_unescaped_html_is_refused_with_telegrams_words(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    body = {"chat_id": int(GROUP), "text": "<b>ok</b> <script>", "parse_mode": "HTML"}
    async with http.post(f"{telegram.base}/bot{TOKEN}/sendMessage", json=body) as answer:
        status, raw = answer.status, await answer.read()

    with pytest.raises(Rejected) as caught:
        TelegramBot().check(status, raw, {})

    assert caught.value.code == "400"
    assert 'can\'t parse entities: Unsupported start tag "script" at byte offset 10' in str(
        caught.value
    )


async def test_a_long_text_is_cut_to_4096_and_keeps_the_link(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    body = "🔥 & <x> " * 800  # 7,200 characters, more when escaped or counted in UTF-16

    one = await sent(telegram, http, notice(text=body, mentions=(ALICE,)))  # the fake checks

    assert len(one.shown.encode("utf-16-le")) // 2 <= 4096
    assert one.shown.endswith("…\n\nAlice Chen\nOpen incident")
    assert one.text.endswith(f'<a href="{URL}">Open incident</a>')
    assert one.reply_markup == KEYBOARD


async def test_a_digest_lists_each_incident_and_merges_mentions(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    other = "https://ackgate.example.invalid/incidents/43"
    digest = Digest(
        messages=(
            notice(mentions=(ALICE,)),
            notice(
                number=43,
                title="#43 Disk <full> on db-1",
                severity="warning",
                status="acknowledged",
                url=other,
                mentions=(BOB, ALICE),
            ),
        ),
        headline="2 more incidents changed in checkout",
    )

    one = await sent(telegram, http, digest)

    assert one.text == (
        "<b>2 more incidents changed in checkout</b>\n"
        f'#42 [CRITICAL] HighErrorRate on checkout — triggered (<a href="{URL}">link</a>)\n'
        f'#43 [WARNING] Disk &lt;full&gt; on db-1 — acknowledged (<a href="{other}">link</a>)\n'
        '<a href="tg://user?id=777">Alice Chen</a> @Bob Li'
    )
    assert one.reply_markup is None


async def test_a_digest_stops_at_25_lines(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    many = tuple(notice(number=n, title=f"#{n} short") for n in range(1, 38))

    one = await sent(telegram, http, Digest(many, "37 incidents changed"))

    lines = one.shown.split("\n")
    assert len(lines) == 1 + 25 + 1
    assert lines[-1] == "… and 12 more"


async def test_a_digest_of_long_lines_stops_at_4096(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    many = tuple(notice(number=n, title=f"#{n} " + "é" * 150) for n in range(1, 31))

    one = await sent(telegram, http, Digest(many, "30 incidents changed"))

    lines = one.shown.split("\n")
    shown = len(lines) - 2
    assert 0 < shown < 25
    assert lines[-1] == f"… and {30 - shown} more"
    assert len(one.shown) <= 4096


async def test_a_wrong_token_is_an_auth_failure_with_the_fix(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(AuthFailed) as caught:
        await deliver(http, target(telegram, token="123456:revoked"), notice())

    assert "401: Unauthorized" in str(caught.value)
    assert UNAUTHORIZED_HINT in str(caught.value)
    assert not caught.value.retryable


async def test_a_malformed_token_is_an_auth_failure(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(AuthFailed) as caught:
        await deliver(http, target(telegram, token="not-a-token"), notice())

    assert NOT_FOUND_HINT in str(caught.value)


async def test_an_unknown_chat_is_rejected_with_the_fix(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(Rejected) as caught:
        await deliver(http, target(telegram, "-100555"), notice())

    assert caught.value.code == "chat_not_found"
    assert "Bad Request: chat not found" in str(caught.value)
    assert CHAT_NOT_FOUND_HINT in str(caught.value)


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ("kicked", "Forbidden: bot was kicked from the supergroup chat"),
        ("left", "Forbidden: bot is not a member of the supergroup chat"),
    ],
)
async def test_a_chat_without_the_bot_is_rejected_with_the_fix(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession, state: str, words: str
) -> None:
    telegram.add_chat("-100666", state=state)

    with pytest.raises(Rejected) as caught:
        await deliver(http, target(telegram, "-100666"), notice())

    assert words in str(caught.value)
    assert KICKED_HINT in str(caught.value)
    assert not caught.value.retryable


async def test_each_answer_is_checked_on_its_own(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession
) -> None:
    telegram.kick(OTHER_GROUP)

    with pytest.raises(Rejected, match="kicked"):
        await deliver(http, target(telegram, GROUP, OTHER_GROUP), notice())

    assert len(telegram.messages(GROUP)) == 1  # the first chat got it before the second failed


async def test_the_21st_message_a_minute_is_rate_limited(
    telegram: FakeTelegramBot, http: aiohttp.ClientSession, clock: Clock
) -> None:
    for _ in range(20):
        await deliver(http, target(telegram), notice())
    clock.now += 15

    with pytest.raises(RateLimited) as caught:
        await deliver(http, target(telegram), notice())

    assert caught.value.retry_after_s == 45.0
    assert "Too Many Requests: retry after 45" in str(caught.value)
    await deliver(http, target(telegram, OTHER_GROUP), notice())  # another chat is not held
    clock.now += 45
    await deliver(http, target(telegram), notice())
    assert len(telegram.messages(GROUP)) == 21


async def test_500_is_unavailable(telegram: FakeTelegramBot, http: aiohttp.ClientSession) -> None:
    telegram.fail_next(502, "Bad Gateway")

    with pytest.raises(Unavailable) as caught:
        await deliver(http, target(telegram), notice())

    assert caught.value.retryable


def test_a_group_upgraded_to_a_supergroup_names_the_new_id() -> None:
    body = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1001111},
    }

    with pytest.raises(Rejected) as caught:
        TelegramBot().check(400, json.dumps(body).encode(), {})

    assert caught.value.code == "chat_migrated"
    assert "use chat id -1001111" in str(caught.value)


def test_429_without_parameters_falls_back_to_retry_after() -> None:
    body = b'{"ok": false, "error_code": 429, "description": "Too Many Requests"}'

    with pytest.raises(RateLimited) as caught:
        TelegramBot().check(429, body, {"Retry-After": "9"})

    assert caught.value.retry_after_s == 9.0


def test_other_errors_keep_telegrams_description() -> None:
    body = b'{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked"}'

    with pytest.raises(Rejected) as caught:
        TelegramBot().check(403, body, {})

    assert caught.value.code == "403"
    assert str(caught.value) == "telegram sendMessage answered 403: Forbidden: bot was blocked"


def test_a_destination_without_token_or_chats_is_refused() -> None:
    with pytest.raises(AuthFailed, match="no bot token"):
        TelegramBot().requests(
            BotTarget("ops", "https://t.invalid", chat_ids=(GROUP,)), notice(), NOW
        )
    with pytest.raises(Rejected, match="no chat ids"):
        TelegramBot().requests(BotTarget("ops", "https://t.invalid", token=TOKEN), notice(), NOW)


def test_the_fake_parses_html_like_telegram() -> None:
    assert parse_html("<b>a &amp; b</b> &lt;x&gt;") == ("a & b <x>", None)
    assert parse_html("a < b")[1] is not None
    assert parse_html("<b>open")[1] is not None
