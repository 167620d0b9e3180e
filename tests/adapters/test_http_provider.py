"""HttpSms against a fake HTTP SMS gateway: the request it renders, and how answers map."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.http_provider import HttpSms
from gateway.clock import ManualClock
from gateway.config import HttpProviderSettings
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from tests.fakes.http_sms import PATH, Answer, FakeHttpSms

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALICE = "+8613800138000"
TEXT = 'Disk "full" on db-1 & slow. Ack: https://x.example/i/42'
ALIYUN_BODY = (
    '{"PhoneNumbers": {{ to|tojson }}, "SignName": "ackgate", "TemplateCode": "SMS_1",'
    ' "TemplateParam": {{ {"inc": number|string, "text": text}|tojson|tojson }}}'
)


def job(channel: str = "sms", **payload: Any) -> Job:
    doc = {"number": 42, "url": "https://x.example/i/42", "text": TEXT, **payload}
    return Job(
        delivery_id=3,
        incident_id=42,
        channel=channel,
        destination={"member": "alice", "to": ALICE},
        payload=doc,
        attempt=1,
    )


@pytest.fixture
async def gateway(aiohttp_server: AiohttpServer) -> FakeHttpSms:
    fake = FakeHttpSms()
    server = await aiohttp_server(fake.app)
    fake.url = str(server.make_url(PATH))
    return fake


def sender(
    fake: FakeHttpSms, session: aiohttp.ClientSession, channel: str = "sms", **overrides: Any
) -> HttpSms:
    settings = HttpProviderSettings.model_validate({"url": fake.url, **overrides})
    return HttpSms(settings, session, channel, clock=ManualClock(NOW))


async def test_default_body_is_json_with_to_and_text(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    result = await sender(gateway, http).send(job())

    [got] = gateway.received
    assert got.method == "POST"
    assert got.headers["Content-Type"] == "application/json"
    assert json.loads(got.body) == {"to": ALICE, "text": TEXT}
    assert result == SendResult(message_ref="9001^0")


async def test_a_provider_shaped_body_headers_and_ok_field(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    s = sender(
        gateway,
        http,
        "voice",
        method="PUT",
        headers={"X-Api-Key": "k-123", "content-type": "application/json; charset=utf-8"},
        body=ALIYUN_BODY,
        ok_json="Code",
        ok_value="OK",
    )
    assert s.channel == "voice"
    await s.send(job("voice"))

    [got] = gateway.received
    assert got.method == "PUT"
    assert got.headers["X-Api-Key"] == "k-123"
    assert got.headers.getall("Content-Type") == ["application/json; charset=utf-8"]
    doc = json.loads(got.body)
    assert doc["PhoneNumbers"] == ALICE
    assert json.loads(doc["TemplateParam"]) == {"inc": "42", "text": TEXT}


async def test_get_sends_the_rendered_body_as_the_query(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    body = "to={{ to|urlencode }}&msg={{ text|urlencode }}&n={{ number }}"
    await sender(gateway, http, method="GET", body=body).send(job())

    [got] = gateway.received
    assert got.method == "GET"
    assert got.body == b""
    assert dict(got.query) == {"to": ALICE, "msg": TEXT, "n": "42"}


async def test_nested_ok_field_with_a_list_index(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    tencent = {"Response": {"SendStatusSet": [{"Code": "Ok", "SerialNo": "s-1"}]}}
    gateway.script(Answer(200, tencent))
    s = sender(gateway, http, ok_json="Response.SendStatusSet.0.Code", ok_value="Ok")
    assert await s.send(job()) == SendResult(message_ref=None)


async def test_ok_field_mismatch_is_rejected_with_the_body(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    refused = {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "invalid mobile number"}
    gateway.script(Answer(200, refused))
    with pytest.raises(Rejected) as caught:
        await sender(gateway, http, ok_json="Code").send(job())
    assert caught.value.code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert json.dumps(refused) in str(caught.value)
    assert not caught.value.retryable


async def test_ok_field_missing_is_rejected(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    gateway.script(Answer(200, "accepted"))
    with pytest.raises(Rejected, match="accepted") as caught:
        await sender(gateway, http, ok_json="Code").send(job())
    assert caught.value.code == "no_ok_field"


async def test_too_many_requests_is_rate_limited_with_retry_after(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    gateway.script(Answer(429, {"Code": "isv.BUSINESS_LIMIT_CONTROL"}, {"Retry-After": "17"}))
    with pytest.raises(RateLimited, match="BUSINESS_LIMIT_CONTROL") as caught:
        await sender(gateway, http).send(job())
    assert caught.value.retry_after_s == 17


async def test_server_error_is_unavailable(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    gateway.script(Answer(502, "bad gateway"))
    with pytest.raises(Unavailable, match="502: bad gateway"):
        await sender(gateway, http).send(job())


async def test_client_error_is_rejected_with_the_body_verbatim(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    gateway.script(Answer(400, "x" * 300))
    with pytest.raises(Rejected) as caught:
        await sender(gateway, http).send(job())
    assert caught.value.code == "400"
    assert str(caught.value) == "sms gateway answered 400: " + "x" * 200


async def test_refused_credentials_are_auth_failure(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    gateway.script(Answer(401, {"error": "bad key"}))
    with pytest.raises(AuthFailed, match="bad key"):
        await sender(gateway, http).send(job())


async def test_a_failing_template_is_rejected_before_sending(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    with pytest.raises(Rejected, match="body template failed") as caught:
        await sender(gateway, http, body="{{ nope.deeper }}").send(job())
    assert caught.value.code == "template"
    assert gateway.received == []


async def test_connection_refused_is_unavailable(http: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = HttpProviderSettings.model_validate({"url": f"http://127.0.0.1:{port}/sms"})
    with pytest.raises(Unavailable, match="unreachable"):
        await HttpSms(settings, http).send(job())


async def test_a_delivery_without_a_number_is_rejected(
    gateway: FakeHttpSms, http: aiohttp.ClientSession
) -> None:
    broken = Job(3, 42, "sms", {"member": "alice"}, {"text": TEXT}, 1)
    with pytest.raises(Rejected) as caught:
        await sender(gateway, http).send(broken)
    assert caught.value.code == "no_to"
