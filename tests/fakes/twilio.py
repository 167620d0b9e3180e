"""A fake Twilio: its REST API for messages and calls, and Twilio's signed calls back to us.

Serve ``app`` (e.g. with ``aiohttp_server``), set ``url`` to its root and point the real SDK
at it (``TwilioSettings.api_base_url``). It checks HTTP Basic auth (account SID + token),
validates ``To`` as E.164, records every message and call (with its TwiML and callback
URLs), answers with Twilio's JSON, and can be told to fail (or hold) the next request.

``call_back`` plays Twilio calling the gateway: the form is signed with the real algorithm
(``RequestValidator.compute_signature``) over the public URL and POSTed to a test client.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy
from twilio.request_validator import RequestValidator  # type: ignore[import-untyped]
from yarl import URL

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-twilio-auth-token"
API_VERSION = "2010-04-01"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True)
class Request:
    """One request to the REST API as the fake saw it."""

    method: str
    path: str
    headers: CIMultiDictProxy[str]
    form: MultiDictProxy[str]


@dataclass
class SentMessage:
    """A message the account sent (``Messages.json``)."""

    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    status: str = "queued"


@dataclass
class PlacedCall:
    """A call the account placed (``Calls.json``), with the inline TwiML it runs."""

    sid: str
    to: str
    from_: str
    twiml: str
    status_callback: str | None
    status_callback_events: list[str]
    timeout: str | None
    status: str = "queued"

    @property
    def root(self) -> ET.Element:
        """The TwiML, parsed."""
        return ET.fromstring(self.twiml)  # noqa: S314 - our own gateway wrote it

    @property
    def gather_action(self) -> str:
        """The URL Twilio posts the pressed key to."""
        gather = self.root.find("Gather")
        assert gather is not None, self.twiml
        return str(gather.get("action"))

    @property
    def said(self) -> list[str]:
        """Every ``<Say>`` text, in document order, unescaped."""
        return [say.text or "" for say in self.root.iter("Say")]


@dataclass(frozen=True)
class Fault:
    """A scripted failure of the next request: Twilio's error JSON with ``status``/``code``."""

    status: int
    code: int | None = None
    message: str = ""
    retry_after: str | None = None
    hold: bool = False  # never answer (until the fake shuts down)


@dataclass
class _Held:
    released: asyncio.Event = field(default_factory=asyncio.Event)


class FakeTwilio:
    """Twilio's Messages and Calls resources for one account, and its webhooks back."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.url = ""  # set by whoever serves the app
        self.requests: list[Request] = []
        self.messages: list[SentMessage] = []
        self.calls: list[PlacedCall] = []
        self._faults: deque[Fault] = deque()
        self._held = _Held()
        self._ids = itertools.count(1)
        self.app = web.Application()
        base = f"/{API_VERSION}/Accounts/{{sid}}"
        self.app.router.add_post(base + "/Messages.json", self._create_message)
        self.app.router.add_post(base + "/Calls.json", self._create_call)
        self.app.on_shutdown.append(self._release)

    # --- set-up for tests ---------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        code: int | None = None,
        message: str = "",
        *,
        retry_after: str | None = None,
    ) -> None:
        """Answer the next request with ``status`` and ``{"code", "message", …}``."""
        self._faults.append(Fault(status, code, message, retry_after))

    def hold_next(self) -> None:
        """Never answer the next request (a Twilio that hangs)."""
        self._faults.append(Fault(0, hold=True))

    # --- Twilio calling us -------------------------------------------------------------------

    def sign(self, url: str, params: Mapping[str, str], token: str | None = None) -> str:
        """``X-Twilio-Signature`` for a POST of ``params`` to ``url`` (the real algorithm)."""
        signature: str = RequestValidator(token or self.auth_token).compute_signature(
            url, dict(params)
        )
        return signature

    async def call_back(
        self,
        client: TestClient[Any, Any],
        url: str,
        params: Mapping[str, str],
        *,
        token: str | None = None,
        signature: str | None = None,
    ) -> ClientResponse:
        """POST ``params`` as Twilio would to the public ``url``: signed over ``url`` (with
        ``token``, or the account's), sent to ``client`` at the same path and query."""
        headers = {"X-Twilio-Signature": self.sign(url, params, token)}
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        headers["User-Agent"] = "TwilioProxy/1.1"
        path = URL(url).raw_path_qs
        return await client.post(path, data=dict(params), headers=headers)

    def incoming_sms(self, from_: str, to: str, body: str) -> dict[str, str]:
        """The form of an SMS someone sent to our number (``to``)."""
        sid = self._sid("SM")
        return {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": API_VERSION,
        }

    def key_press(self, call: PlacedCall, digits: str) -> dict[str, str]:
        """The form ``<Gather>`` posts when the callee pressed ``digits``."""
        return {
            **self._call_fields(call, "in-progress"),
            "Digits": digits,
            "FinishedOnKey": "",
            "msg": "Gather End",
        }

    def call_status(self, call: PlacedCall, status: str, duration: int = 0) -> dict[str, str]:
        """The form of a call's ``completed`` status callback ending in ``status``."""
        call.status = status
        return {
            **self._call_fields(call, status),
            "CallDuration": str(duration),
            "Duration": str((duration + 59) // 60),
            "SequenceNumber": "0",
            "CallbackSource": "call-progress-events",
            "Timestamp": "Sun, 01 Mar 2026 10:00:30 +0000",
        }

    def message_status(
        self, message: SentMessage, status: str, error_code: str | None = None
    ) -> dict[str, str]:
        """The form of a message's status callback (``undelivered`` with ``30003``, …)."""
        message.status = status
        form = {
            "SmsSid": message.sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": message.to,
            "MessageSid": message.sid,
            "AccountSid": self.account_sid,
            "From": message.from_,
            "ApiVersion": API_VERSION,
        }
        if error_code is not None:
            form["ErrorCode"] = error_code
        return form

    # --- the REST API --------------------------------------------------------------------------

    async def _create_message(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        refused = await self._refusal(request, form)
        if refused is not None:
            return refused
        to, from_, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not from_:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        message = SentMessage(self._sid("SM"), to, from_, body, form.get("StatusCallback"))
        self.messages.append(message)
        return web.json_response(self._message_json(message, request.path), status=201)

    async def _create_call(self, request: web.Request) -> web.Response:
        form = await self._record(request)
        refused = await self._refusal(request, form)
        if refused is not None:
            return refused
        if not form.get("From"):
            return _error(400, 21213, "Caller phone number is required")
        twiml = form.get("Twiml", "")
        if not twiml and not form.get("Url"):
            return _error(400, 21205, "Url parameter is required.")
        call = PlacedCall(
            self._sid("CA"),
            form["To"],
            form["From"],
            twiml,
            form.get("StatusCallback"),
            form.getall("StatusCallbackEvent", []),
            form.get("Timeout"),
        )
        self.calls.append(call)
        return web.json_response(self._call_json(call, request.path), status=201)

    async def _record(self, request: web.Request) -> MultiDictProxy[str]:
        form = await request.post()
        text_form = MultiDictProxy(MultiDict((k, v) for k, v in form.items() if isinstance(v, str)))
        self.requests.append(Request(request.method, request.path, request.headers, text_form))
        return text_form

    async def _refusal(
        self, request: web.Request, form: MultiDictProxy[str]
    ) -> web.Response | None:
        """A scripted fault, bad credentials, another account or a bad ``To``; else None."""
        if self._faults:
            fault = self._faults.popleft()
            if fault.hold:
                await self._held.released.wait()
                return web.Response(status=503)
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            if fault.code is None and fault.status >= 500:
                return web.Response(status=fault.status, text="Internal Server Error")
            return _error(fault.status, fault.code or fault.status, fault.message, headers)
        if _basic(request.headers) != (self.account_sid, self.auth_token):
            return _error(401, 20003, "Authenticate")
        if request.match_info["sid"] != self.account_sid:
            return _error(404, 20404, f"The requested resource {request.path} was not found")
        to = form.get("To", "")
        if not _E164.match(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        return None

    async def _release(self, _app: web.Application) -> None:
        self._held.released.set()

    def _sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):032x}"

    def _call_fields(self, call: PlacedCall, status: str) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": call.sid,
            "CallStatus": status,
            "Called": call.to,
            "Caller": call.from_,
            "Direction": "outbound-api",
            "From": call.from_,
            "To": call.to,
        }

    def _message_json(self, message: SentMessage, path: str) -> dict[str, Any]:
        now = _now()
        return {
            "sid": message.sid,
            "account_sid": self.account_sid,
            "to": message.to,
            "from": message.from_,
            "body": message.body,
            "status": message.status,
            "num_segments": "1",
            "num_media": "0",
            "direction": "outbound-api",
            "api_version": API_VERSION,
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "messaging_service_sid": None,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "uri": path.replace("Messages.json", f"Messages/{message.sid}.json"),
            "subresource_uris": {},
        }

    def _call_json(self, call: PlacedCall, path: str) -> dict[str, Any]:
        now = _now()
        return {
            "sid": call.sid,
            "account_sid": self.account_sid,
            "to": call.to,
            "to_formatted": call.to,
            "from": call.from_,
            "from_formatted": call.from_,
            "status": call.status,
            "direction": "outbound-api",
            "api_version": API_VERSION,
            "answered_by": None,
            "caller_name": None,
            "duration": None,
            "price": None,
            "price_unit": "USD",
            "parent_call_sid": None,
            "phone_number_sid": None,
            "start_time": None,
            "end_time": None,
            "date_created": now,
            "date_updated": now,
            "uri": path.replace("Calls.json", f"Calls/{call.sid}.json"),
            "subresource_uris": {},
        }


def _error(
    status: int, code: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status, headers=headers)


def _basic(headers: CIMultiDictProxy[str]) -> tuple[str, str] | None:
    scheme, _, encoded = headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)
