"""WebhookSender against a fake receiver: the request it makes and how answers map to errors."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest

from adapters.webhook import WebhookSender
from gateway.clock import ManualClock
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable
from gateway.outbox import Job
from tests.fakes.webhook import FakeWebhook, Reply

REF = "services.ops.notify[0]"
SECRET = "webhook-signing-secret"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAYLOAD = {"event": "incident.triggered", "incident": {"number": 7, "title": "Disk – full"}}


def job(url: str, ref: str = REF, attempt: int = 1) -> Job:
    return Job(
        delivery_id=42,
        incident_id=7,
        channel="webhook",
        destination={"url": url, "ref": ref},
        payload=PAYLOAD,
        attempt=attempt,
    )


@pytest.fixture
def sender(http: aiohttp.ClientSession) -> WebhookSender:
    return WebhookSender(http, {REF: SECRET}, clock=ManualClock(NOW))


async def test_posts_compact_json_with_delivery_headers(
    sender: WebhookSender, webhook: FakeWebhook
) -> None:
    await sender.send(job(webhook.url, attempt=3))

    [got] = webhook.received
    assert got.body == json.dumps(PAYLOAD, separators=(",", ":")).encode()
    assert got.json == PAYLOAD
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"] == "ackgate"
    assert got.headers["X-Ackgate-Delivery"] == "42"
    assert got.headers["X-Ackgate-Attempt"] == "3"


async def test_signs_timestamp_and_exact_body(sender: WebhookSender, webhook: FakeWebhook) -> None:
    webhook.secret = SECRET  # the fake answers 401 to a bad signature, too
    await sender.send(job(webhook.url))

    [got] = webhook.received
    timestamp = got.headers["X-Ackgate-Timestamp"]
    assert timestamp == str(int(NOW.timestamp()))
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256)
    assert got.headers["X-Ackgate-Signature"] == f"sha256={expected.hexdigest()}"


async def test_no_signature_without_a_secret_for_the_destination(
    sender: WebhookSender, webhook: FakeWebhook
) -> None:
    await sender.send(job(webhook.url, ref="services.other.notify[0]"))

    [got] = webhook.received
    assert "X-Ackgate-Signature" not in got.headers
    assert "X-Ackgate-Timestamp" not in got.headers


async def test_wrong_secret_is_auth_failure(
    http: aiohttp.ClientSession, webhook: FakeWebhook
) -> None:
    webhook.secret = SECRET
    sender = WebhookSender(http, {REF: "not-the-receivers-secret"})
    with pytest.raises(AuthFailed, match="401: bad signature"):
        await sender.send(job(webhook.url))


@pytest.mark.parametrize(
    ("reply", "message_ref"),
    [
        (Reply(200, {"id": "evt-1", "ok": True}), "evt-1"),
        (Reply(201, {"id": 99}), "99"),
        (Reply(200, {"ok": True}), None),
        (Reply(200, "thanks"), None),
        (Reply(202, ""), None),
        (Reply(204), None),
    ],
)
async def test_success_returns_receivers_id(
    sender: WebhookSender, webhook: FakeWebhook, reply: Reply, message_ref: str | None
) -> None:
    webhook.script(reply)
    result = await sender.send(job(webhook.url))
    assert result.message_ref == message_ref


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, Unavailable),
        (502, Unavailable),
        (503, Unavailable),
        (408, Unavailable),
        (401, AuthFailed),
        (403, AuthFailed),
        (400, Rejected),
        (404, Rejected),
        (410, Rejected),
        (422, Rejected),
        (302, Rejected),
    ],
)
async def test_error_statuses_map_to_platform_errors(
    sender: WebhookSender, webhook: FakeWebhook, status: int, error: type[PlatformError]
) -> None:
    webhook.script(Reply(status, "x" * 500, headers={"Location": webhook.url}))
    with pytest.raises(error) as caught:
        await sender.send(job(webhook.url))
    assert type(caught.value) is error
    assert str(caught.value) == f"webhook answered {status}: {'x' * 200}"
    if isinstance(caught.value, Rejected):
        assert caught.value.code == str(status)
    assert len(webhook.received) == 1  # a redirect is not followed


@pytest.mark.parametrize(
    ("headers", "retry_after_s"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({}, 30.0),
        ({"Retry-After": "soon"}, 30.0),
        ({"Retry-After": format_datetime(NOW + timedelta(minutes=5), usegmt=True)}, 300.0),
    ],
)
async def test_rate_limit_carries_retry_after(
    sender: WebhookSender, webhook: FakeWebhook, headers: dict[str, str], retry_after_s: float
) -> None:
    webhook.script(Reply(429, {"error": "slow down"}, headers=headers))
    with pytest.raises(RateLimited) as caught:
        await sender.send(job(webhook.url))
    assert caught.value.retry_after_s == retry_after_s
    assert caught.value.retryable


async def test_connection_refused_is_unavailable(sender: WebhookSender) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(Unavailable, match="webhook unreachable"):
        await sender.send(job(f"http://127.0.0.1:{port}/hook"))


@pytest.mark.parametrize("url", ["", "http://", "not a url"])
async def test_unusable_url_is_rejected(sender: WebhookSender, url: str) -> None:
    with pytest.raises(Rejected) as caught:
        await sender.send(job(url))
    assert not caught.value.retryable
