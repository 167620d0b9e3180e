"""Text messages and phone calls through Twilio's own async SDK, its errors mapped to ours."""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any
from urllib.parse import urlencode

import aiohttp
from twilio.base.exceptions import (  # type: ignore[import-untyped]
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.async_http_client import AsyncTwilioHttpClient  # type: ignore[import-untyped]
from twilio.rest import Client  # type: ignore[import-untyped]
from twilio.twiml.voice_response import VoiceResponse  # type: ignore[import-untyped]

from adapters.retry_after import DEFAULT_RETRY_AFTER_S
from adapters.twilio import SMS_STATUS_PATH, VOICE_PATH, VOICE_STATUS_PATH
from gateway import messages
from gateway.config import TwilioSettings
from gateway.errors import AuthFailed, PlatformError, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult

LANG = "en"
TIMEOUT_S = 10.0
RING_TIMEOUT_S = 30  # how long a call rings before Twilio gives up (no-answer)
GATHER_TIMEOUT_S = 8  # how long Twilio waits for a key after the script was read
# Twilio's codes for a number that can never get this message: not a valid number, not a
# mobile, unsubscribed (STOP), a region the account may not reach.
PERMANENT_CODES = frozenset({21211, 21614, 21610, 21408})
AUTH_CODE = 20003
RATE_CODE = 20429
_SDK_PREFIX = "Unable to create record: "

# The SDK logs every request at INFO; only its warnings are worth our log.
_sdk_log = logging.getLogger("adapters.twilio.sdk")
_sdk_log.setLevel(logging.WARNING)


class _HttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's aiohttp client, sending its credentials as a header: aiohttp deprecates the
    ``auth=`` argument the SDK would pass (a warning on every request, gone in aiohttp 4)."""

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the SDK's signature
        allow_redirects: bool = False,
    ) -> Any:
        """One request, as the SDK makes it."""
        if auth is not None:
            pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {pair}"}
        return await super().request(
            method, url, params, data, headers, None, timeout, allow_redirects
        )


class TwilioApi:
    """One Twilio REST client (the SDK's ``Client`` on ``AsyncTwilioHttpClient``), shared by
    the SMS and voice senders of one account and closed once with ``close()``.

    Given ``session``, the SDK sends through it (and ``close()`` leaves it open); otherwise
    the SDK makes its own session on first use (it needs a running event loop).
    """

    def __init__(
        self, settings: TwilioSettings, *, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.settings = settings
        self._session = session
        self._client: Any = None

    def client(self) -> Any:
        """The SDK client, pointed at ``settings.api_base_url``."""
        if self._client is None:
            http = _HttpClient(pool_connections=self._session is None, logger=_sdk_log)
            if self._session is not None:
                http.session = self._session
            client = Client(
                self.settings.account_sid,
                self.settings.auth_token.get_secret_value(),
                http_client=http,
            )
            client.api.base_url = str(self.settings.api_base_url).rstrip("/")
            self._client = client
        return self._client

    async def close(self) -> None:
        """Close the SDK's own HTTP session (not one given to us); safe to call twice."""
        client, self._client = self._client, None
        if client is not None and self._session is None:
            await client.http_client.close()


class _TwilioSender:
    channel = ""

    def __init__(
        self,
        settings: TwilioSettings,
        server_base_url: str,
        *,
        api: TwilioApi | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self.base_url = server_base_url.rstrip("/")
        self.api = api or TwilioApi(settings)
        self.timeout_s = timeout_s

    async def close(self) -> None:
        """Close the shared client's HTTP session (idempotent)."""
        await self.api.close()

    async def _call(self, what: str, create: Any, **fields: Any) -> str:
        """Run one SDK ``create_async``; returns the new resource's sid."""
        try:
            async with asyncio.timeout(self.timeout_s):
                created = await create(**fields)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise twilio_error(what, exc) from exc
        except TimeoutError:
            raise Unavailable(f"twilio {what}: no answer within {self.timeout_s:g}s") from None
        except aiohttp.ClientError as exc:
            raise Unavailable(f"twilio unreachable: {type(exc).__name__}: {exc}") from exc
        except ValueError as exc:  # a 2xx whose body is not JSON
            raise Unavailable(f"twilio {what}: unreadable answer: {exc}") from exc
        return str(created.sid)


class TwilioSms(_TwilioSender):
    """Sends ``payload["text"]`` to ``destination["to"]`` as one Twilio message.

    Its status callback (``…/hooks/sms/twilio/status?d=<delivery id>``) tells us when it was
    undelivered. ``message_ref`` is the message's sid (``SM…``).
    """

    channel = "sms"

    async def send(self, job: Job) -> SendResult:
        """Create the message; raises a PlatformError subclass when Twilio refuses."""
        to, text = _to_and_text(job)
        sid = await self._call(
            "message",
            self.api.client().messages.create_async,
            to=to,
            from_=self.settings.from_number,
            body=text,
            status_callback=callback_url(self.base_url, SMS_STATUS_PATH, d=job.delivery_id),
        )
        return SendResult(message_ref=sid)


class TwilioVoice(_TwilioSender):
    """Calls ``destination["to"]`` and reads ``payload["text"]``, listening for one key
    (1 acknowledge, 2 escalate, 3 repeat: answered by ``adapters.twilio.inbound``).

    Only the call's end is reported back (``…/hooks/voice/twilio/status?d=<delivery id>``):
    busy, no answer or failed means the person was not reached. ``message_ref`` is the
    call's sid (``CA…``).
    """

    channel = "voice"

    async def send(self, job: Job) -> SendResult:
        """Place the call; raises a PlatformError subclass when Twilio refuses."""
        to, text = _to_and_text(job)
        number = job.payload.get("number")
        if isinstance(number, bool) or not isinstance(number, int):
            raise Rejected("voice delivery has no incident number", code="no_number")
        action = callback_url(self.base_url, VOICE_PATH, n=number, d=job.delivery_id)
        sid = await self._call(
            "call",
            self.api.client().calls.create_async,
            to=to,
            from_=self.settings.from_number,
            twiml=keypad_twiml(text, action),
            status_callback=callback_url(self.base_url, VOICE_STATUS_PATH, d=job.delivery_id),
            status_callback_event=["completed"],
            timeout=RING_TIMEOUT_S,
        )
        return SendResult(message_ref=sid)


def callback_url(base_url: str, path: str, **query: object) -> str:
    """``base_url + path`` with ``query``: the exact URL Twilio will sign when it calls it."""
    return f"{base_url.rstrip('/')}{path}?{urlencode(query)}"


def keypad_twiml(text: str, action: str, lang: str = LANG) -> str:
    """TwiML that reads ``text`` while listening for one key (posted to ``action``), then
    says goodbye if none was pressed; every value is XML-escaped."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, timeout=GATHER_TIMEOUT_S, action=action, method="POST")
    gather.say(text)
    response.say(messages.text("voice_no_key", lang))
    return str(response)


def twilio_error(what: str, exc: Exception) -> PlatformError:
    """Our error for a Twilio error answer (``TwilioRestException`` or the RFC 9457 kind)."""
    status = int(getattr(exc, "status", 0) or 0)
    raw_code = getattr(exc, "code", None)
    code = raw_code if isinstance(raw_code, int) else None
    if isinstance(exc, TwilioServiceException):
        message = str(exc.detail or exc.title)
    else:
        message = _twilio_message(str(getattr(exc, "msg", "")))
    described = f"twilio {what} answered {status}" + (f" ({code})" if code else "")
    described += f": {message}"
    if code == AUTH_CODE or status == 401:
        return AuthFailed(described)
    if code == RATE_CODE or status == 429:
        return RateLimited(described, DEFAULT_RETRY_AFTER_S)
    if code in PERMANENT_CODES:
        return Rejected(message, code=str(code))
    if status >= 500 or status in (0, 408):
        return Unavailable(described)
    return Rejected(described, code=str(code or status))


def _twilio_message(msg: str) -> str:
    """Twilio's own ``message``, without the sentence the SDK puts in front of it."""
    return msg.removeprefix(_SDK_PREFIX)


def _to_and_text(job: Job) -> tuple[str, str]:
    to = job.destination.get("to")
    text = job.payload.get("text")
    if not isinstance(to, str) or not to:
        raise Rejected(f"{job.channel} delivery has no phone number", code="no_to")
    if not isinstance(text, str) or not text.strip():
        raise Rejected(f"{job.channel} delivery has no text", code="no_text")
    return to, text
