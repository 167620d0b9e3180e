"""WecomBot against a fake WeCom group robot: markdown, the mention ping, byte caps, refusals."""

from __future__ import annotations

from datetime import UTC, datetime

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.bots.message import BotMessage, BotTarget, Digest, Mention, RateLimit
from adapters.bots.wecom import WecomBot
from gateway.clock import ManualClock
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable
from tests.fakes.wecom_bot import KEY, MARKDOWN_MAX_BYTES, PATH, TEXT_MAX_BYTES, FakeWecomBot

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
URL = "https://ackgate.example.invalid/incidents/42"
ALICE = Mention("alice", "Alice Chen", user_id="alice.chen")
CAROL = Mention("carol", "Carol Wu", phone="+8613800138000")
BOB = Mention("bob", "Bob Li")
KIND = WecomBot()


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
async def wecom(aiohttp_server: AiohttpServer, clock: ManualClock) -> FakeWecomBot:
    fake = FakeWecomBot(KEY, clock=clock)
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(PATH).with_query(key=KEY))
    return fake


async def deliver(
    http: aiohttp.ClientSession, fake: FakeWecomBot, message: BotMessage | Digest
) -> None:
    """Send what ``requests()`` asks for, in order, and let ``check()`` judge each answer."""
    for request in KIND.requests(BotTarget("oncall-group", fake.url), message, NOW):
        async with http.request(
            request.method, request.url, json=request.json, headers=request.headers
        ) as resp:
            KIND.check(resp.status, await resp.read(), resp.headers)


async def test_posts_one_markdown_message_ending_with_the_link(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, wecom, notice())

    assert wecom.accepted == [
        {
            "msgtype": "markdown",
            "markdown": {
                "content": f"Error rate 12% on checkout (threshold 5%).\n\n[Open incident]({URL})"
            },
        }
    ]


async def test_user_ids_are_mentioned_inline_and_need_no_ping(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, wecom, notice(mentions=(ALICE, BOB)))

    [markdown] = wecom.of_type("markdown")
    assert "\n\n<@alice.chen> @Bob Li\n\n" in markdown["content"]
    assert wecom.of_type("text") == []


async def test_phones_and_at_all_turn_the_notice_into_one_text_message(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, wecom, notice(mentions=(ALICE, CAROL), at_all=True))

    [text] = wecom.of_type("text")
    assert [body["msgtype"] for body in wecom.accepted] == ["text"]
    assert text["mentioned_list"] == ["alice.chen", "@all"]
    assert text["mentioned_mobile_list"] == ["13800138000"]
    assert text["content"].startswith("#42 HighErrorRate on checkout\n")
    assert text["content"].endswith("\nOpen incident: https://ackgate.example.invalid/incidents/42")


async def test_at_all_alone_goes_as_text_without_a_mobile_list(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, wecom, notice(at_all=True))

    [text] = wecom.of_type("text")
    assert text["mentioned_list"] == ["@all"]
    assert "mentioned_mobile_list" not in text


async def test_an_unknown_key_is_an_auth_failure_that_says_what_to_do(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    wecom.key = "another-key"

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, wecom, notice())

    message = str(caught.value)
    assert message.startswith("wecom_bot: 93000 invalid webhook url, hint: [")
    assert message.endswith(
        "(the bot was removed from the group, or its key is wrong: "
        "create a new bot and update the destination's url)"
    )
    assert not caught.value.retryable


async def test_over_twenty_a_minute_is_rate_limited_for_a_minute(
    wecom: FakeWecomBot, http: aiohttp.ClientSession, clock: ManualClock
) -> None:
    assert RateLimit(20, 60.0) == KIND.limit
    for number in range(20):
        await deliver(http, wecom, notice(number))

    with pytest.raises(RateLimited) as caught:
        await deliver(http, wecom, notice(20))

    assert caught.value.retry_after_s == 60
    assert "45009 api freq out of limit" in str(caught.value)
    clock.advance(seconds=61)
    await deliver(http, wecom, notice(20))
    assert len(wecom.accepted) == 21


async def test_a_notice_with_phone_mentions_costs_one_message(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    for number in range(20):
        await deliver(http, wecom, notice(number, mentions=(CAROL,)))

    assert len(wecom.accepted) == 20
    with pytest.raises(RateLimited):
        await deliver(http, wecom, notice(20))


async def test_a_server_error_is_unavailable(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    wecom.fail_next(502)

    with pytest.raises(Unavailable) as caught:
        await deliver(http, wecom, notice())

    assert caught.value.retryable


@pytest.mark.parametrize("errcode", [40058, 44004])
async def test_bad_content_is_rejected_for_good(
    wecom: FakeWecomBot, http: aiohttp.ClientSession, errcode: int
) -> None:
    wecom.fail_next(errcode=errcode, errmsg="markdown.content exceed max length 4096")

    with pytest.raises(Rejected) as caught:
        await deliver(http, wecom, notice())

    assert caught.value.code == str(errcode)
    assert "markdown.content exceed max length 4096" in str(caught.value)
    assert "check the bot's template" in str(caught.value)


async def test_an_unknown_errcode_is_rejected_with_the_platforms_words(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    wecom.fail_next(errcode=301002, errmsg="not allow operate another corp")

    with pytest.raises(Rejected) as caught:
        await deliver(http, wecom, notice())

    assert str(caught.value) == "wecom_bot: 301002 not allow operate another corp"
    assert caught.value.code == "301002"


@pytest.mark.parametrize(
    ("status", "body", "headers", "error"),
    [
        (200, b"", {}, Unavailable),
        (504, b"gateway timeout", {}, Unavailable),
        (429, b"", {"Retry-After": "12"}, RateLimited),
        (401, b"", {}, AuthFailed),
        (400, b"bad", {}, Rejected),
    ],
)
def test_check_maps_http_answers(
    status: int, body: bytes, headers: dict[str, str], error: type[PlatformError]
) -> None:
    with pytest.raises(error) as caught:
        KIND.check(status, body, headers)
    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after_s == 12


async def test_cjk_markdown_is_cut_to_4096_bytes_between_characters(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    text = "数据库连接池耗尽，结账服务错误率上升。" * 200  # 11,400 bytes
    message = notice(text=text, mentions=(ALICE,))

    await deliver(http, wecom, message)  # the fake refuses markdown over 4096 bytes

    content = wecom.of_type("markdown")[0]["content"]
    assert MARKDOWN_MAX_BYTES - 3 <= len(content.encode()) <= MARKDOWN_MAX_BYTES
    kept, mentions, link = content.split("\n\n")
    assert kept.endswith("…")
    assert text.startswith(kept.removesuffix("…"))
    assert mentions == "<@alice.chen>"
    assert link == f"[Open incident]({URL})"


async def test_a_text_notice_stays_within_its_cap_and_keeps_the_link(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    await deliver(http, wecom, notice(title="结账" * 2000, mentions=(CAROL,)))

    [text] = wecom.of_type("text")
    assert len(text["content"].encode()) <= TEXT_MAX_BYTES
    assert text["content"].startswith("#42 结账结账")
    assert "…" in text["content"]
    assert text["content"].endswith("\nOpen incident: https://ackgate.example.invalid/incidents/42")


async def test_a_digest_with_phones_is_text_mentioning_the_union(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    digest = Digest(
        messages=(
            notice(42, mentions=(ALICE, CAROL)),
            notice(43, title="Disk full on db-1", severity="warning", mentions=(CAROL, BOB)),
        ),
        headline="2 more incidents changed in checkout",
    )

    await deliver(http, wecom, digest)

    [text] = wecom.of_type("text")
    assert text == {
        "content": "2 more incidents changed in checkout\n"
        "#42 CRITICAL HighErrorRate on checkout (triggered)\n"
        "#43 WARNING Disk full on db-1 (triggered)",
        "mentioned_list": ["alice.chen"],
        "mentioned_mobile_list": ["13800138000"],
    }


async def test_a_digest_without_phones_is_markdown(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    digest = Digest(
        messages=(notice(42, mentions=(ALICE,)), notice(43, title="Disk full on db-1")),
        headline="2 more incidents changed in checkout",
    )

    await deliver(http, wecom, digest)

    [markdown] = wecom.of_type("markdown")
    assert markdown["content"] == (
        "**2 more incidents changed in checkout**\n"
        f"#42 [CRITICAL] HighErrorRate on checkout — triggered ([open]({URL}))\n"
        "#43 [CRITICAL] Disk full on db-1 — triggered "
        "([open](https://ackgate.example.invalid/incidents/43))\n\n"
        "<@alice.chen>"
    )


async def test_a_long_cjk_digest_says_how_many_more_within_4096_bytes(
    wecom: FakeWecomBot, http: aiohttp.ClientSession
) -> None:
    digest = Digest(
        messages=tuple(notice(n, title="结账服务错误率过高") for n in range(1, 101)),
        headline="100 incidents changed",
    )

    await deliver(http, wecom, digest)

    lines = wecom.of_type("markdown")[0]["content"].split("\n")
    shown = [line for line in lines if line.startswith("#")]
    assert 0 < len(shown) < 100
    assert lines[-1] == f"… and {100 - len(shown)} more"
    assert shown[-1].startswith(f"#{len(shown)} [CRITICAL] 结账服务错误率过高 — triggered")
