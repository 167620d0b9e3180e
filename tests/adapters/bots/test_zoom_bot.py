"""ZoomBot against a fake Zoom incoming webhook: what it posts, and how Zoom's answers map."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.bots.message import BotKind, BotMessage, BotTarget, Digest, Mention, RateLimit
from adapters.bots.zoom import AUTH_HINT, GONE_HINT, ZoomBot, endpoint
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from tests.fakes.zoom_webhook import FakeZoomWebhook, Received

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
URL = "https://ackgate.example.invalid/incidents/42"
ALICE = Mention("alice", "Alice Chen", user_id="zoom-user-1")
BOB = Mention("bob", "Bob Li")
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
async def zoom(aiohttp_server: AiohttpServer) -> FakeZoomWebhook:
    fake = FakeZoomWebhook()
    server = await aiohttp_server(fake.app)
    fake.base = str(server.make_url("")).rstrip("/")
    return fake


async def deliver(
    session: aiohttp.ClientSession, target: BotTarget, message: BotMessage | Digest
) -> None:
    """What the bot sender does: send each request, let the kind read each answer."""
    kind = ZoomBot()
    for request in kind.requests(target, message, NOW):
        async with session.request(
            request.method, request.url, json=dict(request.json), headers=dict(request.headers)
        ) as answer:
            kind.check(answer.status, await answer.read(), dict(answer.headers))


async def received(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession, message: BotMessage | Digest
) -> Received:
    url, token = zoom.add_webhook()
    await deliver(http, BotTarget("ops", url, secret=token), message)
    [got] = zoom.webhook(url).received
    return got


def texts(got: Received) -> list[str]:
    return [item["text"] for item in got.message["body"]]


def test_the_kind_and_its_limit() -> None:
    kind: BotKind = ZoomBot()  # mypy checks the protocol here

    assert kind.name == "zoom_bot"
    assert kind.limit == RateLimit(1, 1.0)


async def test_posts_a_full_format_message_with_the_token(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    got = await received(zoom, http, notice())

    assert got.query.getall("format") == ["full"]
    assert got.message == {
        "head": {
            "text": "#42 HighErrorRate on checkout",
            "sub_head": {"text": "CRITICAL · triggered"},
        },
        "body": [
            {"type": "message", "text": TEXT},
            {"type": "message", "text": f"Open incident: {URL}"},
        ],
    }


def test_format_full_is_added_and_other_parameters_kept() -> None:
    base = "https://integrations.zoom.us/chat/webhooks/incomingwebhook/abc"

    assert endpoint(base) == base + "?format=full"
    assert endpoint(base + "?format=full") == base + "?format=full"
    assert endpoint(base + "?x=1&format=message&y=a%20b") == base + "?x=1&y=a%20b&format=full"


async def test_other_query_parameters_reach_zoom(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    url, token = zoom.add_webhook()

    await deliver(http, BotTarget("ops", url + "?channel=ops", secret=token), notice())

    [got] = zoom.webhook(url).received
    assert dict(got.query) == {"channel": "ops", "format": "full"}


async def test_mentions_are_plain_names_once_each(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    got = await received(zoom, http, notice(mentions=(ALICE, BOB, ALICE), at_all=True))

    assert texts(got) == [TEXT, "@Alice Chen @Bob Li @all", f"Open incident: {URL}"]


async def test_text_is_sent_as_written_since_zoom_shows_plain_text(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    title = "#42 <script>alert(1)</script> & co"
    body = "db <down> & *not bold*"

    got = await received(zoom, http, notice(title=title, text=body))

    assert got.message["head"]["text"] == title
    assert texts(got)[0] == body


async def test_long_text_is_cut_and_the_link_kept(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    got = await received(zoom, http, notice(title="T" * 300, text="x" * 5000, mentions=(BOB,)))

    assert len(got.message["head"]["text"]) == 150
    assert texts(got)[0].endswith("…")
    assert texts(got)[-1] == f"Open incident: {URL}"
    assert sum(len(t) for t in texts(got)) <= 4000


async def test_a_digest_lists_each_incident_and_merges_mentions(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    other = "https://ackgate.example.invalid/incidents/43"
    digest = Digest(
        messages=(
            notice(mentions=(ALICE,)),
            notice(
                number=43,
                title="#43 Disk full on db-1",
                severity="warning",
                status="acknowledged",
                url=other,
                mentions=(BOB, ALICE),
            ),
        ),
        headline="2 more incidents changed in checkout",
    )

    got = await received(zoom, http, digest)

    assert got.message["head"] == {
        "text": "2 more incidents changed in checkout",
        "sub_head": {"text": "2 incidents"},
    }
    assert texts(got) == [
        f"#42 [CRITICAL] HighErrorRate on checkout — triggered ({URL})\n"
        f"#43 [WARNING] Disk full on db-1 — acknowledged ({other})",
        "@Alice Chen @Bob Li",
    ]


async def test_a_long_digest_ends_with_how_many_more(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    many = tuple(notice(number=n, title=f"#{n} short") for n in range(1, 38))

    got = await received(zoom, http, Digest(many, "37 incidents changed"))

    lines = texts(got)[0].split("\n")
    assert len(lines) == 26
    assert lines[0] == f"#1 [CRITICAL] short — triggered ({URL})"
    assert lines[-1] == "… and 12 more"


async def test_a_wrong_token_is_an_auth_failure_with_the_fix(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    url, _token = zoom.add_webhook()

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, BotTarget("ops", url, secret="an-old-token"), notice())

    assert "401: Invalid authorization token" in str(caught.value)
    assert AUTH_HINT in str(caught.value)
    assert not caught.value.retryable
    assert not zoom.webhook(url).received


async def test_an_unknown_webhook_is_an_auth_failure(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession
) -> None:
    url, token = zoom.add_webhook()

    with pytest.raises(AuthFailed) as caught:
        await deliver(http, BotTarget("ops", url + "-gone", secret=token), notice())

    assert "404: Invalid webhook" in str(caught.value)
    assert GONE_HINT in str(caught.value)


async def test_no_token_configured_is_an_auth_failure() -> None:
    with pytest.raises(AuthFailed, match="no verification token"):
        ZoomBot().requests(BotTarget("ops", "https://zoom.example.invalid/x"), notice(), NOW)


@pytest.mark.parametrize(("header", "wait"), [("12", 12.0), (None, 60.0)])
async def test_429_is_rate_limited(
    zoom: FakeZoomWebhook, http: aiohttp.ClientSession, header: str | None, wait: float
) -> None:
    url, token = zoom.add_webhook()
    zoom.fail_next(429, '{"code": 429, "message": "Too many requests"}', retry_after=header)

    with pytest.raises(RateLimited) as caught:
        await deliver(http, BotTarget("ops", url, secret=token), notice())

    assert caught.value.retry_after_s == wait
    assert "Too many requests" in str(caught.value)


async def test_500_is_unavailable(zoom: FakeZoomWebhook, http: aiohttp.ClientSession) -> None:
    url, token = zoom.add_webhook()
    zoom.fail_next(503, "upstream down")

    with pytest.raises(Unavailable) as caught:
        await deliver(http, BotTarget("ops", url, secret=token), notice())

    assert caught.value.retryable


async def test_other_4xx_is_rejected(zoom: FakeZoomWebhook, http: aiohttp.ClientSession) -> None:
    url, token = zoom.add_webhook()
    zoom.fail_next(400, '{"code": 300, "message": "Invalid message format"}')

    with pytest.raises(Rejected) as caught:
        await deliver(http, BotTarget("ops", url, secret=token), notice())

    assert caught.value.code == "400"
    assert "Invalid message format" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "body"),
    [(200, b"Invalid authorization token"), (400, b'{"message": "Invalid webhook"}'), (403, b"")],
)
def test_auth_words_or_statuses_are_auth_failures(status: int, body: bytes) -> None:
    with pytest.raises(AuthFailed):
        ZoomBot().check(status, body, {})


def test_200_and_204_are_accepted() -> None:
    ZoomBot().check(200, b"", {})
    ZoomBot().check(204, b"", {})
