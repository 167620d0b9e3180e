"""DingTalk's way in: the Stream connection (``mode = "stream"``, the default) or, with
``mode = "http"``, ``POST /hooks/dingtalk`` — every request signed by DingTalk with the app
secret (``timestamp`` and ``sign`` headers, within 5 minutes) before anything is read."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from functools import partial

import aiohttp
from aiohttp import web

from adapters.dingtalk.api import DingtalkApi
from adapters.dingtalk.handlers import HANDLERS, DingtalkHandlers
from gateway.config import DingtalkSettings
from gateway.domain import JSONObject
from gateway.errors import MalformedPayload, Unauthorized
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/dingtalk"
TIMESTAMP_HEADER = "timestamp"
SIGN_HEADER = "sign"
# DingTalk allows an hour, but its sign covers the time and the secret, not the body: a
# captured pair of headers carries any body while it is fresh. Five minutes, as elsewhere.
MAX_SKEW_MS = 5 * 60 * 1000
CALL_TIMEOUT_S = 3.0  # API calls made while DingTalk waits for the answer

SETTINGS = web.AppKey("dingtalk_settings", DingtalkSettings)  # set once the routes are added


def add_routes(app: web.Application, settings: DingtalkSettings) -> None:
    """Register the Stream connection (stream mode) or ``POST /hooks/dingtalk`` (http mode)."""
    app[SETTINGS] = settings
    if settings.mode == "stream":
        from adapters.dingtalk.stream import add_stream  # noqa: PLC0415 - only in stream mode

        add_stream(app, settings)
        return
    app.cleanup_ctx.append(partial(_inbound, settings=settings))
    app.router.add_post(PATH, handle)
    # Card clicks come to the card's own callback URL (see adapters.dingtalk.cardhook).
    from adapters.dingtalk.cardhook import add_card_route  # noqa: PLC0415 - http mode only

    add_card_route(app, settings)


def sign(timestamp: str, secret: str) -> str:
    """DingTalk's robot signature: base64 of HMAC-SHA256 keyed by the app secret over
    ``"{timestamp}\\n{secret}"``."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def check_signature(
    headers: Mapping[str, str], secret: str, now: datetime, max_skew_ms: int = MAX_SKEW_MS
) -> None:
    """Raise Unauthorized unless ``headers`` carry a fresh, valid signature by ``secret``."""
    timestamp, given = headers.get(TIMESTAMP_HEADER), headers.get(SIGN_HEADER)
    if not timestamp or not given:
        raise Unauthorized("dingtalk: the request is not signed")
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise Unauthorized("dingtalk: the request timestamp is not a number") from None
    if abs(int(now.timestamp() * 1000) - sent_ms) > max_skew_ms:
        raise Unauthorized("dingtalk: the request timestamp is outside the 5-minute window")
    if not hmac.compare_digest(given.encode(), sign(timestamp, secret).encode()):
        raise Unauthorized("dingtalk: bad signature")


async def handle(request: web.Request) -> web.Response:
    """Check the signature, then hand the body to its handler; JSON back.

    A card click is answered with the card as it is now; a message is answered later, in
    its conversation, so the request is answered at once with ``{}``.
    """
    settings = request.app[SETTINGS]
    rt = request.app[RUNTIME]
    check_signature(request.headers, settings.client_secret.get_secret_value(), rt.clock.now())
    body = await request.read()
    doc = _json(body)
    handlers = request.app[HANDLERS]
    if is_card_callback(doc):
        # No delivery id comes with it: the signed moment and the body tell a request sent
        # again apart, while the same button pressed again later (a new moment) still acts.
        signed = request.headers[TIMESTAMP_HEADER].encode() + b"\n" + body
        callback_id = f"http:{hashlib.sha256(signed).hexdigest()[:40]}"
        return web.json_response(await handlers.card_callback(doc, callback_id))
    handlers.chatbot_message(doc)
    return web.json_response({})


def is_card_callback(doc: Mapping[str, object]) -> bool:
    """Whether a request is a card click (else it is a chatbot message)."""
    return "outTrackId" in doc or doc.get("type") == "actionCallback"


async def _inbound(app: web.Application, *, settings: DingtalkSettings) -> AsyncIterator[None]:
    session = aiohttp.ClientSession()
    api = DingtalkApi(settings, session, timeout_s=CALL_TIMEOUT_S)
    handlers = DingtalkHandlers(app[RUNTIME], settings, api)
    app[HANDLERS] = handlers
    yield
    await handlers.close()
    await session.close()


def _json(raw: bytes) -> JSONObject:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload("is not JSON", "body") from None
    if not isinstance(doc, dict):
        raise MalformedPayload("must be a JSON object", "body")
    return doc
