"""DingtalkBot against a fake DingTalk custom bot: markdown, mentions, signing, refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.bots.dingtalk import BODY_BUDGET_BYTES, DingtalkBot
from adapters.bots.message import BotMessage, BotTarget, Digest, Mention, RateLimit
from gateway.clock import ManualClock
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable
from tests.fakes.dingtalk_bot import PATH, TOKEN, FakeDingtalkBot

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
URL = "https://ackgate.example.invalid/incidents/42"
ALICE = Mention("alice", "Alice Chen", user_id="staff-alice")
CAROL = Mention("carol", "Carol Wu", phone="+8613800138000")
DAVE = Mention("dave", "Dave Roe", phone="+14155550100")
BOB = Mention("bob", "Bob Li")
KIND = DingtalkBot()


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
async def dingtalk(aiohttp_server: AiohttpServer, clock: ManualClock) -> FakeDingtalkBot:
    fake = FakeDingtalkBot(TOKEN, clock=clock)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(PATH).with_query(access_token=TOKEN))
    return fake


async def deliver(
    http: aiohttp.ClientSession,
    fake: FakeDingtalkBot,
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


async def test_posts_markdown_ending_with_the_link(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, dingtalk, notice())

    [body] = dingtalk.accepted
    assert body == {
        "msgtype": "markdown",
        "markdown": {
            "title": "#42 HighErrorRate on checkout",
            "text": f"Error rate 12% on checkout (threshold 5%).\n\n[Open incident]({URL})",
        },
        "at": {"atMobiles": [], "atUserIds": [], "isAtAll": False},
    }
    [(query, _)] = dingtalk.received
    assert query == {"access_token": TOKEN}  # unsigned: nothing appended


async def test_mentions_go_in_at_and_show_in_the_text(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, dingtalk, notice(mentions=(ALICE, CAROL, DAVE, BOB), at_all=True))

    [body] = dingtalk.accepted
    assert body["at"] == {
        "atMobiles": ["13800138000", "+14155550100"],  # +86 dropped, others as given
        "atUserIds": ["staff-alice"],
        "isAtAll": True,
    }
    text = body["markdown"]["text"]
    assert "\n\n@staff-alice @13800138000 @+14155550100 @Bob Li\n\n" in text
    assert text.endswith(f"[Open incident]({URL})")


async def test_a_signed_message_is_accepted_with_the_right_secret(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    dingtalk.secret = SECRET
    # Find a moment whose signature has "+" and "/": they must survive the query string.
    at = NOW
    while True:
        [request] = KIND.requests(BotTarget("g", dingtalk.url, secret=SECRET), notice(), at)
        if "%2B" in request.url and "%2F" in request.url:
            break
        at += timedelta(milliseconds=1)

    await deliver(http, dingtalk, notice(), secret=SECRET, at=at)

    [(query, _)] = dingtalk.received
    assert query["timestamp"] == str(int(at.timestamp() * 1000))
    assert "+" in query["sign"]
    assert "/" in query["sign"]
    assert len(dingtalk.accepted) == 1
    raw = parse_qs(urlsplit(request.url).query)
    assert raw["access_token"] == [TOKEN]


async def test_a_wrong_secret_is_an_auth_failure_with_the_signing_hint(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.secret = SECRET

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, dingtalk, notice(), secret="SECwrong")

    assert str(caught.value).startswith("dingtalk_bot: 310000 sign not match")
    assert str(caught.value).endswith("(check the bot's signing secret and this server's clock)")
    assert not caught.value.retryable
    assert dingtalk.accepted == []


async def test_an_unsigned_message_is_refused_by_a_bot_that_signs(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.secret = SECRET

    with pytest.raises(AuthFailed, match="signing secret"):
        await deliver(http, dingtalk, notice())


async def test_a_timestamp_more_than_an_hour_old_is_refused(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.secret = SECRET

    with pytest.raises(AuthFailed, match="clock"):
        await deliver(http, dingtalk, notice(), secret=SECRET, at=NOW - timedelta(minutes=61))

    await deliver(http, dingtalk, notice(), secret=SECRET, at=NOW - timedelta(minutes=59))
    assert len(dingtalk.accepted) == 1


async def test_a_missing_keyword_is_rejected_with_the_keyword_hint(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.keywords = ("告警",)

    with pytest.raises(Rejected) as caught:
        await deliver(http, dingtalk, notice())

    assert caught.value.code == "310000"
    assert "keywords not in content" in str(caught.value)
    assert "add it to the template or remove the keyword" in str(caught.value)
    await deliver(http, dingtalk, notice(text="告警: error rate 12%"))
    assert len(dingtalk.accepted) == 1


async def test_a_caller_off_the_ip_list_is_an_auth_failure_with_the_ip_hint(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.allowed_ips = ("203.0.113.9",)

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, dingtalk, notice())

    assert "ip 127.0.0.1 not in whitelist" in str(caught.value)
    assert "IP allow-list" in str(caught.value)


async def test_over_twenty_a_minute_throttles_the_bot_for_ten_minutes(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    assert RateLimit(20, 60.0) == KIND.limit
    for number in range(20):
        await deliver(http, dingtalk, notice(number))

    with pytest.raises(RateLimited) as caught:
        await deliver(http, dingtalk, notice(20))

    assert caught.value.retry_after_s == 600
    assert "130101 send too fast" in str(caught.value)
    clock.advance(minutes=5)  # the minute is over, but the throttle is not
    with pytest.raises(RateLimited):
        await deliver(http, dingtalk, notice(20))
    clock.advance(minutes=5, seconds=1)
    await deliver(http, dingtalk, notice(20))
    assert len(dingtalk.accepted) == 21


async def test_an_unknown_access_token_means_the_bot_is_gone(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.token = "rotated-token"

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, dingtalk, notice())

    assert str(caught.value).startswith("dingtalk_bot: 300001 token is not exist (")
    assert "the bot was removed or its access_token changed" in str(caught.value)


async def test_a_server_error_is_unavailable(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.fail_next(500)

    with pytest.raises(Unavailable):
        await deliver(http, dingtalk, notice())

    await deliver(http, dingtalk, notice())
    assert len(dingtalk.accepted) == 1


async def test_an_unknown_errcode_is_rejected_with_the_platforms_words(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    dingtalk.fail_next(errcode=430101, errmsg="群已被解散")

    with pytest.raises(Rejected) as caught:
        await deliver(http, dingtalk, notice())

    assert caught.value.code == "430101"
    assert str(caught.value) == "dingtalk_bot: 430101 群已被解散"


@pytest.mark.parametrize(
    ("errmsg", "error", "hint"),
    [
        ("sign not match, more: [x]", AuthFailed, "signing secret"),
        ("keywords not in content, more: [x]", Rejected, "keyword setting"),
        ("ip 198.51.100.1 not in whitelist", AuthFailed, "IP allow-list"),
        ("security check failed", AuthFailed, "security settings"),
    ],
)
def test_310000_is_read_by_what_its_errmsg_names(
    errmsg: str, error: type[PlatformError], hint: str
) -> None:
    body = json.dumps({"errcode": 310000, "errmsg": errmsg}).encode()
    with pytest.raises(error, match=hint):
        KIND.check(200, body, {})


@pytest.mark.parametrize(
    ("status", "body", "error", "retry_after_s"),
    [
        (200, b'{"status":1111,"punish":"deny"}', RateLimited, 600),
        (200, b'{"errcode":90018,"errmsg":"too many"}', RateLimited, 60),
        (429, b"", RateLimited, 60),
        (503, b"busy", Unavailable, None),
        (200, b"<html></html>", Unavailable, None),
        (200, b'{"errcode":400013,"errmsg":"robot gone"}', AuthFailed, None),
    ],
)
def test_check_maps_other_answers(
    status: int, body: bytes, error: type[PlatformError], retry_after_s: float | None
) -> None:
    with pytest.raises(error) as caught:
        KIND.check(status, body, {})
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after_s == retry_after_s


def test_check_accepts_errcode_zero() -> None:
    KIND.check(200, b'{"errcode":0,"errmsg":"ok"}', {})


async def test_a_digest_lists_each_incident_with_everyone_mentioned_once(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    digest = Digest(
        messages=(
            notice(42, mentions=(ALICE, CAROL)),
            notice(43, title="Disk full on db-1", severity="warning", mentions=(CAROL, ALICE)),
        ),
        headline="2 more incidents changed in checkout",
    )

    await deliver(http, dingtalk, digest)

    [body] = dingtalk.accepted
    assert body["markdown"]["title"] == "2 more incidents changed in checkout"
    assert body["markdown"]["text"] == (
        "**2 more incidents changed in checkout**\n\n"
        f"- #42 [CRITICAL] HighErrorRate on checkout — triggered ([open]({URL}))\n"
        "- #43 [WARNING] Disk full on db-1 — triggered "
        "([open](https://ackgate.example.invalid/incidents/43))\n\n"
        "@staff-alice @13800138000"
    )
    assert body["at"] == {
        "atMobiles": ["13800138000"],
        "atUserIds": ["staff-alice"],
        "isAtAll": False,
    }


async def test_a_long_digest_says_how_many_more_within_the_budget(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    digest = Digest(
        messages=tuple(notice(n, title="结账服务错误率过高 " * 10) for n in range(1, 201)),
        headline="200 incidents changed",
    )

    [request] = KIND.requests(BotTarget("g", dingtalk.url), digest, NOW)
    await deliver(http, dingtalk, digest)

    assert len(json.dumps(request.json).encode()) <= BODY_BUDGET_BYTES
    lines = dingtalk.accepted[0]["markdown"]["text"].split("\n")
    shown = [line for line in lines if line.startswith("- #")]
    assert 0 < len(shown) < 200
    assert lines[-1] == f"- … and {200 - len(shown)} more"


async def test_long_cjk_text_is_cut_between_characters_and_keeps_mentions_and_link(
    dingtalk: FakeDingtalkBot, http: aiohttp.ClientSession
) -> None:
    text = "数据库连接池耗尽，结账服务错误率上升。" * 2000
    message = notice(text=text, mentions=(CAROL,))

    [request] = KIND.requests(BotTarget("g", dingtalk.url), message, NOW)
    await deliver(http, dingtalk, message)

    assert len(json.dumps(request.json).encode()) <= BODY_BUDGET_BYTES
    kept, mentions, link = dingtalk.accepted[0]["markdown"]["text"].split("\n\n")
    assert kept.endswith("…")
    assert text.startswith(kept.removesuffix("…"))
    assert len(kept) > 1000
    assert mentions == "@13800138000"
    assert link == f"[Open incident]({URL})"
