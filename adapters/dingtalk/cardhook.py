"""``POST /hooks/dingtalk/card`` (``mode = "http"``): card button clicks, which DingTalk posts
to a card's callback URL rather than to the robot's message URL, signed with the callback
route's ``apiSecret`` — checked before anything is read, acted on as Stream-mode clicks are,
and answered with the card as it is now.

DingTalk's interactive cards deliver clicks over HTTP once a route is registered
(``POST /v1.0/card/callbacks/register {callbackRouteKey, callbackUrl, apiSecret}``) and a card
names it; its card callback docs ("回调签名验证") sign each request with headers
``x-ddpaas-signature-timestamp`` (ms) and ``x-ddpaas-signature`` = base64(HMAC-SHA256(key =
apiSecret, msg = the timestamp)). So at every start the gateway registers the route
``ackgate-<client_id>`` → ``dingtalk.card_callback_url`` with a secret derived from the app
secret (the same on every replica), and each card it sends names both the URL and the route.

The signature covers the moment, not the body: a request is taken only within 5 minutes of
it, a signature is taken with one body only, and the moment and the body together are the
click's idempotency key in the core (a request sent again changes nothing twice).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from functools import partial

from aiohttp import web

from adapters.dingtalk.api import DingtalkApi, card_route_key
from adapters.dingtalk.handlers import HANDLERS
from gateway.config import DingtalkSettings
from gateway.domain import JSONObject
from gateway.errors import AuthFailed, MalformedPayload, PlatformError, Rejected, Unauthorized
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/dingtalk/card"
TIMESTAMP_HEADER = "x-ddpaas-signature-timestamp"
SIGNATURE_HEADER = "x-ddpaas-signature"
MAX_SKEW_MS = 5 * 60 * 1000
SIGNED_MAX = 10_000  # signatures remembered (each lives 10 minutes: the window both ways)
SECRET_LABEL = b"ackgate: dingtalk card callbacks"
REGISTER_RETRY_MIN_S = 1.0
REGISTER_RETRY_MAX_S = 60.0
ACTION_CALLBACK = "actionCallback"


def api_secret(settings: DingtalkSettings) -> str:
    """The ``apiSecret`` the card callback route is registered with: derived from the app
    secret, so every replica registers (and checks) the same one and none is configured."""
    key = settings.client_secret.get_secret_value().encode()
    digest = hmac.new(key, SECRET_LABEL, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def card_sign(secret: str, timestamp: str) -> str:
    """``x-ddpaas-signature``: base64 of HMAC-SHA256 keyed by ``secret`` over ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_card_signature(
    headers: Mapping[str, str], secret: str, now: datetime, max_skew_ms: int = MAX_SKEW_MS
) -> tuple[str, str]:
    """``(timestamp, signature)`` of a fresh request signed with ``secret``; else Unauthorized."""
    timestamp, given = headers.get(TIMESTAMP_HEADER), headers.get(SIGNATURE_HEADER)
    if not timestamp or not given:
        raise Unauthorized("dingtalk card callback: the request is not signed")
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise Unauthorized("dingtalk card callback: the timestamp is not a number") from None
    if abs(int(now.timestamp() * 1000) - sent_ms) > max_skew_ms:
        raise Unauthorized("dingtalk card callback: the timestamp is outside the 5-minute window")
    if not hmac.compare_digest(given.encode(), card_sign(secret, timestamp).encode()):
        raise Unauthorized("dingtalk card callback: bad signature")
    return timestamp, given


class CardHook:
    """The route's settings and secret, and the signatures seen with the body each carried."""

    def __init__(self, settings: DingtalkSettings, size: int = SIGNED_MAX) -> None:
        self.settings = settings
        self.secret = api_secret(settings)
        self._size = size
        self._signed: OrderedDict[str, str] = OrderedDict()  # signature → body digest

    def check_once(self, signature: str, digest: str) -> None:
        """Raise Unauthorized when ``signature`` came before with another body."""
        seen = self._signed.get(signature)
        if seen is not None and seen != digest:
            raise Unauthorized("dingtalk card callback: a signature used with another body")
        self._signed[signature] = digest
        self._signed.move_to_end(signature)
        while len(self._signed) > self._size:
            self._signed.popitem(last=False)


CARD_HOOK = web.AppKey("dingtalk_card_hook", CardHook)


async def handle(request: web.Request) -> web.Response:
    """Check the signature, act on the click, answer with the card as it is now (or ``{}``)."""
    hook = request.app[CARD_HOOK]
    rt = request.app[RUNTIME]
    timestamp, signature = check_card_signature(request.headers, hook.secret, rt.clock.now())
    body = await request.read()
    digest = hashlib.sha256(timestamp.encode() + b"\n" + body).hexdigest()
    hook.check_once(signature, digest)
    doc = _json(body)
    if doc.get("type") not in (None, ACTION_CALLBACK) or "outTrackId" not in doc:
        raise MalformedPayload("is not a card action callback", "body")
    answer = await request.app[HANDLERS].card_callback(doc, f"card-http:{digest[:40]}")
    return web.json_response(answer)


def add_card_route(app: web.Application, settings: DingtalkSettings) -> None:
    """``POST /hooks/dingtalk/card``, and the route's registration at every start.

    Call after the HTTP-mode handlers are set up (the registration uses their API client).
    """
    app[CARD_HOOK] = CardHook(settings)
    app.cleanup_ctx.append(partial(_registration, settings=settings))
    app.router.add_post(PATH, handle)


async def _registration(app: web.Application, *, settings: DingtalkSettings) -> AsyncIterator[None]:
    """A cleanup_ctx: register the card callback route in the background while the app runs."""
    if settings.card_callback_url is None:
        log.warning(
            'dingtalk: mode = "http" without dingtalk.card_callback_url: cards are sent with '
            "no callback, so DingTalk delivers no button clicks (text commands still work). "
            "Set it to https://<your gateway>%s",
            PATH,
        )
        yield
        return
    hook = app[CARD_HOOK]
    task = asyncio.create_task(
        register(app[HANDLERS].api, settings, hook.secret), name="dingtalk-card-callback"
    )
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def register(
    api: DingtalkApi,
    settings: DingtalkSettings,
    secret: str,
    *,
    retry_min_s: float = REGISTER_RETRY_MIN_S,
    retry_max_s: float = REGISTER_RETRY_MAX_S,
) -> bool:
    """Register the route until DingTalk takes it; gives up (False) on a refusal that only
    a person can fix (credentials, the app's Card.Instance.Write permission)."""
    url, key = str(settings.card_callback_url), card_route_key(settings)
    delay_s = retry_min_s
    while True:
        try:
            await api.register_card_callback(key, url, secret)
        except (AuthFailed, Rejected) as exc:
            refused: PlatformError = exc
            break
        except PlatformError as exc:
            log.warning("dingtalk: card callback route %s: %s; again in %.0fs", key, exc, delay_s)
            await asyncio.sleep(delay_s)
            delay_s = min(delay_s * 2, retry_max_s)
            continue
        log.info("dingtalk: card clicks for route %s go to %s", key, url)
        return True
    log.error(
        "dingtalk: card callback route %s not registered, card clicks will not arrive: %s "
        "(the app needs the Card.Instance.Write permission)",
        key,
        refused,
    )
    return False


def _json(raw: bytes) -> JSONObject:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise MalformedPayload("is not JSON", "body") from None
    if not isinstance(doc, dict):
        raise MalformedPayload("must be a JSON object", "body")
    return doc
