"""LarkBot against a fake Feishu custom bot: the card it posts, signing, and how refusals map."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.bots.lark import BODY_BUDGET_BYTES, LarkBot
from adapters.bots.message import BotMessage, BotTarget, Digest, Mention, RateLimit
from gateway.clock import ManualClock
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable
from tests.fakes.lark_bot import HOOK_PREFIX, MAX_BODY_BYTES, TOKEN, FakeLarkBot

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SECRET = "feishu-signing-secret"
URL = "https://ackgate.example.invalid/incidents/42"
ALICE = Mention("alice", "Alice Chen", user_id="ou_alice")
BOB = Mention("bob", "Bob Li")  # no Feishu id: named, not mentioned
CAROL = Mention("carol", "Carol Wu", phone="+8613800138000")  # custom bots cannot use phones
KIND = LarkBot()


def notice(
    number: int = 42,
    *,
    title: str = "HighErrorRate on checkout",
    text: str = "Error rate 12% on checkout (threshold 5%).",
    severity: str = "critical",
    status: str = "triggered",
    mentions: tuple[Mention, ...] = (),
    at_all: bool = False,
) -> BotMessage:
    return BotMessage(
        number=number, title=f"#{number} {title}", text=text, severity=severity,
        status=status, event=status, url=f"https://ackgate.example.invalid/incidents/{number}",
        mentions=mentions, at_all=at_all,
    )  # fmt: skip


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def lark(aiohttp_server: AiohttpServer, clock: ManualClock) -> FakeLarkBot:
    fake = FakeLarkBot(TOKEN, clock=clock)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(HOOK_PREFIX + TOKEN))
    return fake


async def deliver(
    http: aiohttp.ClientSession,
    fake: FakeLarkBot,
    message: BotMessage | Digest,
    *,
    secret: str | None = None,
    at: datetime | None = None,
) -> None:
    """Send what ``requests()`` asks for and let ``check()`` judge each answer."""
    target = BotTarget("oncall-group", fake.url, secret=secret)
    for request in KIND.requests(target, message, at or NOW):
        async with http.request(
            request.method, request.url, json=request.json, headers=request.headers
        ) as resp:
            KIND.check(resp.status, await resp.read(), resp.headers)


def markdown_of(card: dict[str, Any]) -> str:
    """The card's one element, a markdown block."""
    [element] = card["elements"]
    assert element["tag"] == "markdown"
    return str(element["content"])


async def test_posts_an_interactive_card_with_title_text_and_link(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, lark, notice())

    [body] = lark.accepted
    assert body["msg_type"] == "interactive"
    assert "timestamp" not in body
    assert "sign" not in body
    card = body["card"]
    assert card["header"] == {
        "template": "red",
        "title": {"tag": "plain_text", "content": "#42 HighErrorRate on checkout"},
    }
    content = markdown_of(card)
    assert content.startswith("Error rate 12% on checkout (threshold 5%).")
    assert content.endswith(f"[Open incident]({URL})")


@pytest.mark.parametrize(
    ("severity", "status", "colour"),
    [
        ("critical", "triggered", "red"),
        ("warning", "acknowledged", "orange"),
        ("info", "triggered", "blue"),
        ("critical", "closed", "green"),
    ],
)
def test_the_header_is_coloured_by_severity_and_green_once_closed(
    severity: str, status: str, colour: str
) -> None:
    [request] = KIND.requests(
        BotTarget("g", "https://hook.invalid"), notice(severity=severity, status=status), NOW
    )
    assert request.json["card"]["header"]["template"] == colour


async def test_mentions_use_at_tags_and_name_people_without_an_id(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, lark, notice(mentions=(ALICE, BOB, CAROL), at_all=True))

    content = markdown_of(lark.cards()[0])
    assert "<at id=ou_alice></at> @Bob Li @Carol Wu <at id=all></at>" in content
    assert "13800138000" not in content


async def test_a_signed_card_is_accepted_with_the_right_secret(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.secret = SECRET

    await deliver(http, lark, notice(), secret=SECRET)

    [body] = lark.accepted
    assert body["timestamp"] == str(int(NOW.timestamp()))
    assert isinstance(body["sign"], str)


async def test_a_wrong_secret_is_refused_as_an_auth_failure_with_a_hint(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.secret = SECRET

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, lark, notice(), secret="some-other-secret")

    assert not caught.value.retryable
    assert str(caught.value).startswith("lark_bot: 19021 sign match fail")
    assert "(check the bot's signing secret and this server's clock)" in str(caught.value)
    assert lark.accepted == []


async def test_an_unsigned_card_is_refused_by_a_bot_that_signs(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.secret = SECRET

    with pytest.raises(AuthFailed, match="19021"):
        await deliver(http, lark, notice())


@pytest.mark.parametrize("skew", [timedelta(hours=-2), timedelta(hours=2)])
async def test_a_timestamp_more_than_an_hour_off_is_refused(
    lark: FakeLarkBot, http: aiohttp.ClientSession, skew: timedelta
) -> None:
    lark.secret = SECRET

    with pytest.raises(AuthFailed, match="clock"):
        await deliver(http, lark, notice(), secret=SECRET, at=NOW + skew)

    await deliver(http, lark, notice(), secret=SECRET, at=NOW + timedelta(minutes=50))
    assert len(lark.accepted) == 1


async def test_a_missing_keyword_is_rejected_for_good_with_a_hint(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.keywords = ("ALERT",)

    with pytest.raises(Rejected) as caught:
        await deliver(http, lark, notice())

    assert caught.value.code == "19024"
    assert not caught.value.retryable
    assert "add it to the template or remove the keyword" in str(caught.value)
    await deliver(http, lark, notice(text="ALERT: error rate 12%"))
    assert len(lark.accepted) == 1


async def test_a_caller_off_the_ip_allow_list_is_an_auth_failure(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.allowed_ips = ("203.0.113.9",)

    with pytest.raises(AuthFailed, match="IP allow-list"):
        await deliver(http, lark, notice())


async def test_more_than_five_a_second_is_rate_limited_for_a_minute(
    lark: FakeLarkBot, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    for number in range(5):
        await deliver(http, lark, notice(number))

    with pytest.raises(RateLimited) as caught:
        await deliver(http, lark, notice(5))

    assert caught.value.retry_after_s == 60
    assert caught.value.retryable
    assert "11232" in str(caught.value)
    clock.advance(seconds=1)
    await deliver(http, lark, notice(5))
    assert len(lark.accepted) == 6


async def test_more_than_a_hundred_a_minute_is_rate_limited(
    lark: FakeLarkBot, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    assert RateLimit(100, 60.0, burst=(5, 1.0)) == KIND.limit
    for number in range(100):
        if number % 5 == 0:
            clock.advance(seconds=1)  # stay within 5/s: the minute cap is what trips
        await deliver(http, lark, notice(number))
    clock.advance(seconds=1)

    with pytest.raises(RateLimited):
        await deliver(http, lark, notice(100))
    lark.reset_rate_limit()
    await deliver(http, lark, notice(100))


async def test_a_server_error_is_unavailable_and_retryable(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.fail_next(500)

    with pytest.raises(Unavailable) as caught:
        await deliver(http, lark, notice())

    assert caught.value.retryable
    await deliver(http, lark, notice())
    assert len(lark.accepted) == 1


async def test_an_unknown_code_is_rejected_with_the_platforms_words(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.fail_next(code=19002, msg="params error, msg_type need")

    with pytest.raises(Rejected) as caught:
        await deliver(http, lark, notice())

    assert caught.value.code == "19002"
    assert str(caught.value) == "lark_bot: 19002 params error, msg_type need"


async def test_a_wrong_hook_token_is_rejected(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.token = "another-token"

    with pytest.raises(Rejected, match="19001"):
        await deliver(http, lark, notice())


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (200, b"<html>proxy</html>", {}, Unavailable),
        (502, b"", {}, Unavailable),
        (429, b"", {"Retry-After": "7"}, RateLimited),
        (403, b"forbidden", {}, AuthFailed),
        (404, b"not found", {}, Rejected),
        (400, b'{"code":19021,"msg":"sign match fail"}', {}, AuthFailed),
    ],
)
def test_check_maps_http_answers(
    status: int, body: bytes, headers: dict[str, str], error: type[PlatformError]
) -> None:
    with pytest.raises(error) as caught:
        KIND.check(status, body, headers)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after_s == 7


def test_check_accepts_code_zero_and_the_older_status_code_zero() -> None:
    KIND.check(200, b'{"code":0,"data":{},"msg":"success"}', {})
    KIND.check(200, b'{"Extra":null,"StatusCode":0,"StatusMessage":"success"}', {})
    with pytest.raises(AuthFailed, match="19021 sign match fail"):
        KIND.check(200, b'{"StatusCode":19021,"StatusMessage":"sign match fail"}', {})


async def test_a_digest_lists_each_incident_and_mentions_everyone_once(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    digest = Digest(
        messages=(
            notice(42, mentions=(ALICE, BOB)),
            notice(43, title="Disk full on db-1", severity="warning", mentions=(ALICE,)),
            notice(44, title="Latency", severity="info", status="closed", at_all=True),
        ),
        headline="3 more incidents changed in checkout",
    )

    await deliver(http, lark, digest)

    card = lark.cards()[0]
    assert card["header"]["template"] == "red"  # the worst still open
    assert card["header"]["title"]["content"] == "3 more incidents changed in checkout"
    lines = markdown_of(card).split("\n")
    assert lines[:3] == [
        f"#42 [CRITICAL] HighErrorRate on checkout — triggered ([open]({URL}))",
        "#43 [WARNING] Disk full on db-1 — triggered "
        "([open](https://ackgate.example.invalid/incidents/43))",
        "#44 [INFO] Latency — closed ([open](https://ackgate.example.invalid/incidents/44))",
    ]
    assert lines[-1] == "<at id=ou_alice></at> @Bob Li <at id=all></at>"


async def test_a_long_digest_ends_with_how_many_more_and_fits_the_body_cap(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    messages = tuple(notice(n, title="错误率过高 " * 20) for n in range(1, 301))
    digest = Digest(messages=messages, headline="300 incidents changed")

    [request] = KIND.requests(BotTarget("g", lark.url), digest, NOW)
    await deliver(http, lark, digest)

    assert len(json.dumps(request.json).encode()) <= BODY_BUDGET_BYTES
    lines = markdown_of(lark.cards()[0]).split("\n")
    shown = [line for line in lines if line.startswith("#")]
    assert 0 < len(shown) < 300
    assert lines[-1] == f"… and {300 - len(shown)} more"


async def test_long_cjk_text_is_cut_between_characters_under_the_cap(
    lark: FakeLarkBot, http: aiohttp.ClientSession
) -> None:
    lark.secret = SECRET
    text = "数据库连接池耗尽，结账服务错误率上升。" * 2000  # ~114 KB of UTF-8
    message = notice(text=text, mentions=(ALICE,))

    [request] = KIND.requests(BotTarget("g", lark.url, secret=SECRET), message, NOW)
    await deliver(http, lark, message, secret=SECRET)

    assert len(json.dumps(request.json).encode()) <= BODY_BUDGET_BYTES < MAX_BODY_BYTES
    assert len(json.dumps(request.json, ensure_ascii=False).encode()) < BODY_BUDGET_BYTES
    content = markdown_of(lark.cards()[0])
    kept, mentions, link = content.split("\n\n")
    assert kept.endswith("…")
    assert text.startswith(kept.removesuffix("…"))
    assert len(kept) > 1000  # cut to the budget, not to nothing
    assert mentions == "<at id=ou_alice></at>"
    assert link == f"[Open incident]({URL})"
