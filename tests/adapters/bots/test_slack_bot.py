"""SlackBot against a fake incoming-webhook host: what it posts, and how Slack's answers map."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.bots.message import BotKind, BotMessage, BotTarget, Digest, Mention, RateLimit
from adapters.bots.slack import ARCHIVED_HINT, GONE_HINT, SlackBot
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from tests.fakes.slack_webhook import FakeSlackWebhook, Posted

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
URL = "https://ackgate.example.invalid/incidents/42"
ALICE = Mention("alice", "Alice Chen", user_id="UALICE")
BOB = Mention("bob", "Bob Li")  # no Slack id in the mapping table
TEXT = "🔴 [CRITICAL] #42 HighErrorRate on checkout\nTriggered 10:00 UTC\nOpen: " + URL


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
async def hooks(aiohttp_server: AiohttpServer) -> FakeSlackWebhook:
    fake = FakeSlackWebhook()
    server = await aiohttp_server(fake.app)
    fake.base = str(server.make_url("")).rstrip("/")
    return fake


async def deliver(session: aiohttp.ClientSession, url: str, message: BotMessage | Digest) -> None:
    """What the bot sender does: send each request, let the kind read each answer."""
    kind = SlackBot()
    for request in kind.requests(BotTarget("ops", url), message, NOW):
        async with session.request(
            request.method, request.url, json=dict(request.json), headers=dict(request.headers)
        ) as answer:
            kind.check(answer.status, await answer.read(), dict(answer.headers))


async def posted(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession, message: BotMessage | Digest
) -> Posted:
    url = hooks.add_hook()
    await deliver(http, url, message)
    [post] = hooks.hook(url).posted
    return post


def blocks_of(post: Posted, kind: str) -> list[dict[str, Any]]:
    return [b for b in post.blocks if b["type"] == kind]


def test_the_kind_and_its_limit() -> None:
    kind: BotKind = SlackBot()  # mypy checks the protocol here

    assert kind.name == "slack_bot"
    assert kind.limit == RateLimit(1, 1.0)


async def test_posts_header_text_context_and_one_link_button(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    post = await posted(hooks, http, notice())

    header, text = post.blocks[0], post.blocks[1]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "#42 HighErrorRate on checkout", "emoji": True},
    }
    assert text == {"type": "section", "text": {"type": "mrkdwn", "text": TEXT}}
    [context] = blocks_of(post, "context")
    assert context["elements"][0]["text"] == "CRITICAL · triggered"
    [actions] = blocks_of(post, "actions")
    [button] = actions["elements"]
    assert button["url"] == URL
    assert button["text"]["text"] == "Open incident"
    assert "value" not in button  # a URL button: nothing for a webhook to receive
    assert post.text == "#42 HighErrorRate on checkout — CRITICAL · triggered"


async def test_mentions_users_by_id_others_by_name_and_the_channel(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    forged = Mention("carol", "Carol", user_id="U1>|<!here")  # not a Slack id: named instead
    message = notice(mentions=(ALICE, BOB, forged, ALICE), at_all=True)

    post = await posted(hooks, http, message)

    expected = "<@UALICE> @Bob Li @Carol <!channel>"
    [mentions] = [b for b in blocks_of(post, "section") if "<@" in b["text"]["text"]]
    assert mentions["text"]["text"] == expected
    assert post.text is not None
    assert post.text.endswith(expected)  # the notification names them too


async def test_alert_text_is_escaped_so_it_cannot_ping_or_link(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    title = "#42 <script>alert(1)</script> & <!channel>"
    message = notice(title=title, text="db <down> & <!here> <https://evil.example|click>")

    post = await posted(hooks, http, message)

    assert post.blocks[0]["text"]["text"] == title  # plain_text shows it as written
    assert post.blocks[1]["text"]["text"] == (
        "db &lt;down&gt; &amp; &lt;!here&gt; &lt;https://evil.example|click&gt;"
    )
    assert post.text == (
        "#42 &lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt; — CRITICAL · triggered"
    )


async def test_long_title_and_text_are_cut_to_block_kit_limits(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    message = notice(title="#42 " + "T" * 400, text="&" * 2000)  # escapes to 10,000 chars

    post = await posted(hooks, http, message)  # the fake refuses anything over the limits

    header = post.blocks[0]["text"]["text"]
    body = post.blocks[1]["text"]["text"]
    assert len(header) == 150
    assert header.endswith("…")
    assert len(body) <= 3000
    assert body.endswith("&amp;…")  # never cut inside an entity


async def test_a_digest_lists_each_incident_and_merges_mentions(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    digest = Digest(
        messages=(
            notice(mentions=(ALICE,)),
            notice(
                number=43,
                title="#43 Disk full on db-1",
                severity="warning",
                status="acknowledged",
                url="https://ackgate.example.invalid/incidents/43",
                mentions=(ALICE, BOB),
            ),
        ),
        headline="2 more incidents changed in checkout",
    )

    post = await posted(hooks, http, digest)

    assert post.blocks[0]["text"]["text"] == "2 more incidents changed in checkout"
    assert post.blocks[1]["text"]["text"] == (
        f"#42 [CRITICAL] HighErrorRate on checkout — triggered (<{URL}|link>)\n"
        "#43 [WARNING] Disk full on db-1 — acknowledged "
        "(<https://ackgate.example.invalid/incidents/43|link>)"
    )
    assert post.blocks[2]["text"]["text"] == "<@UALICE> @Bob Li"
    assert post.text == "2 more incidents changed in checkout <@UALICE> @Bob Li"
    assert not blocks_of(post, "actions")


async def test_a_long_digest_ends_with_how_many_more(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    many = tuple(notice(number=n, title=f"#{n} " + "x" * 150) for n in range(1, 41))

    post = await posted(hooks, http, Digest(many, "40 incidents changed"))

    lines = post.blocks[1]["text"]["text"].split("\n")
    shown = len(lines) - 1
    assert 0 < shown < 40
    assert lines[-1] == f"… and {40 - shown} more"
    assert len(post.blocks[1]["text"]["text"]) <= 3000


async def test_at_most_25_digest_lines(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    many = tuple(notice(number=n, title=f"#{n} short") for n in range(1, 38))

    post = await posted(hooks, http, Digest(many, "37 incidents changed"))

    lines = post.blocks[1]["text"]["text"].split("\n")
    assert len(lines) == 26
    assert lines[-1] == "… and 12 more"


async def test_a_revoked_webhook_is_an_auth_failure_with_the_fix(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    url = hooks.add_hook()
    hooks.revoke(url)

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, url, notice())

    assert "404: no_service" in str(caught.value)
    assert GONE_HINT in str(caught.value)
    assert not caught.value.retryable


async def test_an_archived_channel_rejects_for_good(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    url = hooks.add_hook()
    hooks.archive(url)

    with pytest.raises(Rejected) as caught:
        await deliver(http, url, notice())

    assert caught.value.code == "channel_is_archived"
    assert ARCHIVED_HINT in str(caught.value)
    assert not caught.value.retryable


async def test_429_is_rate_limited_for_retry_after(
    hooks: FakeSlackWebhook, http: aiohttp.ClientSession
) -> None:
    url = hooks.add_hook()
    hooks.fail_next(429, "rate_limited", retry_after="7")

    with pytest.raises(RateLimited) as caught:
        await deliver(http, url, notice())

    assert caught.value.retry_after_s == 7.0
    assert caught.value.retryable
    await deliver(http, url, notice())  # the next one goes through
    assert len(hooks.hook(url).posted) == 1


async def test_500_is_unavailable(hooks: FakeSlackWebhook, http: aiohttp.ClientSession) -> None:
    url = hooks.add_hook()
    hooks.fail_next(500, "<html>oops</html>")

    with pytest.raises(Unavailable) as caught:
        await deliver(http, url, notice())

    assert caught.value.retryable


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (400, "invalid_payload", Rejected, "invalid_payload"),
        (400, "invalid_blocks", Rejected, "invalid_blocks"),
        (403, "invalid_token", AuthFailed, None),
        (403, "action_prohibited", AuthFailed, None),
        (404, "channel_not_found", AuthFailed, None),
        (413, "", Rejected, "413"),
    ],
)
async def test_slack_error_codes(
    hooks: FakeSlackWebhook,
    http: aiohttp.ClientSession,
    status: int,
    body: str,
    error: type[Exception],
    code: str | None,
) -> None:
    url = hooks.add_hook()
    hooks.fail_next(status, body)

    with pytest.raises(error) as caught:
        await deliver(http, url, notice())

    if code is not None:
        assert isinstance(caught.value, Rejected)
        assert caught.value.code == code
    assert f"{status}: {body or 'no body'}" in str(caught.value)


def test_any_2xx_is_accepted_whatever_it_says() -> None:
    SlackBot().check(200, b"ok", {})
    SlackBot().check(204, b"", {})


def test_retry_after_is_read_whatever_the_header_case() -> None:
    with pytest.raises(RateLimited) as caught:
        SlackBot().check(429, b"rate_limited", {"retry-after": "3"})
    assert caught.value.retry_after_s == 3.0
