"""TwilioSms and TwilioVoice through the real SDK to the fake Twilio: what they send, and how
Twilio's errors map to ours."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pytest_aiohttp import AiohttpServer

from adapters.twilio.sender import TwilioApi, TwilioSms, TwilioVoice
from gateway.config import TwilioSettings
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

FROM = "+15005550006"
ALICE = "+15550100001"
PUBLIC = "https://ackgate.example.com"
TEXT = "[CRITICAL] #42 Disk <full> & slow on db-1 - triggered. Ack: https://x.example/i/42"


def settings(url: str, token: str = AUTH_TOKEN) -> TwilioSettings:
    return TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=token,
        from_number=FROM,
        api_base_url=url,
    )


def job(channel: str, to: str = ALICE, delivery_id: int = 7, **payload: Any) -> Job:
    doc = {
        "event_id": "e1",
        "event": "incident.triggered",
        "number": 42,
        "title": "Disk <full> & slow",
        "severity": "critical",
        "status": "triggered",
        "url": "https://x.example/i/42",
        "text": TEXT,
        **payload,
    }
    return Job(
        delivery_id=delivery_id,
        incident_id=42,
        channel=channel,
        destination={"member": "alice", "to": to},
        payload=doc,
        attempt=1,
    )


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeTwilio:
    twilio = FakeTwilio()
    server = await aiohttp_server(twilio.app)
    twilio.url = str(server.make_url("/"))
    return twilio


@pytest.fixture
async def api(fake: FakeTwilio) -> AsyncIterator[TwilioApi]:
    shared = TwilioApi(settings(fake.url))
    yield shared
    await shared.close()


@pytest.fixture
def sms(fake: FakeTwilio, api: TwilioApi) -> TwilioSms:
    return TwilioSms(api.settings, PUBLIC, api=api)


@pytest.fixture
def voice(fake: FakeTwilio, api: TwilioApi) -> TwilioVoice:
    return TwilioVoice(api.settings, PUBLIC, api=api)


async def test_sms_goes_through_the_sdk_with_from_body_and_status_callback(
    sms: TwilioSms, fake: FakeTwilio
) -> None:
    result = await sms.send(job("sms"))

    [message] = fake.messages
    assert result == SendResult(message_ref=message.sid)
    assert message.sid.startswith("SM")
    assert (message.to, message.from_, message.body) == (ALICE, FROM, TEXT)
    assert message.status_callback == f"{PUBLIC}/hooks/sms/twilio/status?d=7"
    [request] = fake.requests
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.headers["Authorization"].startswith("Basic ")
    assert request.headers["User-Agent"].startswith("twilio-python/")


async def test_call_reads_the_escaped_text_and_listens_for_one_key(
    voice: TwilioVoice, fake: FakeTwilio
) -> None:
    result = await voice.send(job("voice", delivery_id=9))

    [call] = fake.calls
    assert result == SendResult(message_ref=call.sid)
    assert call.sid.startswith("CA")
    assert (call.to, call.from_) == (ALICE, FROM)
    assert call.status_callback == f"{PUBLIC}/hooks/voice/twilio/status?d=9"
    assert call.status_callback_events == ["completed"]
    assert call.timeout == "30"
    # Escaped in the XML, intact once parsed: what Twilio reads aloud.
    assert "Disk &lt;full&gt; &amp; slow" in call.twiml
    gather = call.root.find("Gather")
    assert gather is not None
    assert gather.attrib == {
        "numDigits": "1",
        "timeout": "8",
        "action": f"{PUBLIC}/hooks/voice/twilio?n=42&d=9",
        "method": "POST",
    }
    assert call.gather_action == f"{PUBLIC}/hooks/voice/twilio?n=42&d=9"
    assert call.said == [TEXT, "No key was pressed. Goodbye."]
    assert [child.tag for child in call.root] == ["Gather", "Say"]


async def test_sms_and_voice_share_one_client(
    sms: TwilioSms, voice: TwilioVoice, api: TwilioApi
) -> None:
    assert sms.api is voice.api is api
    assert api.client() is api.client()


async def test_wrong_token_is_auth_failure(fake: FakeTwilio) -> None:
    sender = TwilioSms(settings(fake.url, token="not-the-token"), PUBLIC)
    try:
        with pytest.raises(AuthFailed, match="20003") as caught:
            await sender.send(job("sms"))
    finally:
        await sender.close()
    assert not caught.value.retryable
    assert fake.messages == []


async def test_invalid_number_is_rejected_with_twilios_message(
    sms: TwilioSms, fake: FakeTwilio
) -> None:
    with pytest.raises(Rejected) as caught:
        await sms.send(job("sms", to="555-0100"))

    assert caught.value.code == "21211"
    assert str(caught.value) == "The 'To' number 555-0100 is not a valid phone number."
    assert not caught.value.retryable


@pytest.mark.parametrize("code", [21610, 21614, 21408])
async def test_numbers_that_cannot_get_it_are_rejected(
    voice: TwilioVoice, fake: FakeTwilio, code: int
) -> None:
    fake.fail_next(400, code, "Attempt to send to unsubscribed recipient")
    with pytest.raises(Rejected) as caught:
        await voice.send(job("voice"))
    assert caught.value.code == str(code)
    assert str(caught.value) == "Attempt to send to unsubscribed recipient"


async def test_server_error_is_unavailable(sms: TwilioSms, fake: FakeTwilio) -> None:
    fake.fail_next(500)
    with pytest.raises(Unavailable, match="500") as caught:
        await sms.send(job("sms"))
    assert caught.value.retryable


async def test_too_many_requests_is_rate_limited(sms: TwilioSms, fake: FakeTwilio) -> None:
    fake.fail_next(429, 20429, "Too Many Requests", retry_after="5")
    with pytest.raises(RateLimited, match="20429") as caught:
        await sms.send(job("sms"))
    assert caught.value.retry_after_s > 0


async def test_other_client_errors_are_rejected(sms: TwilioSms, fake: FakeTwilio) -> None:
    fake.fail_next(400, 21606, "The 'From' phone number provided is not a valid message-capable")
    with pytest.raises(Rejected, match="21606") as caught:
        await sms.send(job("sms"))
    assert caught.value.code == "21606"


async def test_no_answer_in_time_is_unavailable(fake: FakeTwilio, api: TwilioApi) -> None:
    fake.hold_next()
    sender = TwilioSms(api.settings, PUBLIC, api=api, timeout_s=0.05)
    with pytest.raises(Unavailable, match="no answer within"):
        await sender.send(job("sms"))


async def test_connection_refused_is_unavailable() -> None:
    with socket.socket() as probe:  # a loopback port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = TwilioVoice(settings(f"http://127.0.0.1:{port}"), PUBLIC)
    try:
        with pytest.raises(Unavailable, match="twilio unreachable"):
            await sender.send(job("voice"))
    finally:
        await sender.close()


async def test_a_given_session_is_used_and_left_open(fake: FakeTwilio) -> None:
    async with aiohttp.ClientSession() as session:
        api = TwilioApi(settings(fake.url), session=session)
        await TwilioSms(api.settings, PUBLIC, api=api).send(job("sms"))
        await api.close()
        assert not session.closed
    assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("destination", "payload", "code"),
    [({"member": "alice"}, {}, "no_to"), ({"to": ALICE}, {"text": " "}, "no_text")],
)
async def test_deliveries_without_number_or_text_are_rejected(
    sms: TwilioSms,
    fake: FakeTwilio,
    destination: dict[str, Any],
    payload: dict[str, Any],
    code: str,
) -> None:
    broken = job("sms", **payload)
    with pytest.raises(Rejected) as caught:
        await sms.send(
            Job(broken.delivery_id, broken.incident_id, "sms", destination, broken.payload, 1)
        )
    assert caught.value.code == code
    assert fake.requests == []
