"""Outgoing webhooks: POST the delivery's JSON, signed, and map the answer to our errors."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

import aiohttp

from adapters.retry_after import retry_after_s
from gateway.clock import Clock, SystemClock
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult

MAX_BODY_EXCERPT = 200


class WebhookSender:
    """Sends a delivery to ``destination["url"]``; signs it when the destination has a secret.

    Receivers verify ``X-Ackgate-Signature`` as ``sha256=`` + hex HMAC-SHA256 of
    ``f"{X-Ackgate-Timestamp}.{body}"`` and use ``X-Ackgate-Delivery`` to drop repeats.
    """

    channel = "webhook"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        secrets: Mapping[str, str],
        *,
        clock: Clock | None = None,
    ) -> None:
        self._session = session
        self._secrets = secrets
        self._clock = clock or SystemClock()

    async def send(self, job: Job) -> SendResult:
        """POST ``job.payload``; raises a PlatformError subclass unless the receiver said 2xx."""
        url = job.destination.get("url")
        if not isinstance(url, str) or not url:
            raise Rejected("webhook destination has no url", code="no_url")
        body = json.dumps(job.payload, separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ackgate",
            "X-Ackgate-Delivery": str(job.delivery_id),
            "X-Ackgate-Attempt": str(job.attempt),
        }
        secret = self._secrets.get(str(job.destination.get("ref")))
        if secret is not None:
            timestamp = str(int(self._clock.now().timestamp()))
            headers["X-Ackgate-Timestamp"] = timestamp
            headers["X-Ackgate-Signature"] = "sha256=" + sign(secret, timestamp, body)
        try:
            # Redirects are not followed: they would carry the signed body to another host.
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                text = (await resp.read()).decode("utf-8", errors="replace")
                retry_after = resp.headers.get("Retry-After")
        except aiohttp.InvalidURL:
            raise Rejected("webhook destination url is not valid", code="bad_url") from None
        except aiohttp.ClientError as exc:
            raise Unavailable(f"webhook unreachable: {type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return SendResult(message_ref=_message_id(text))
        answer = f"webhook answered {status}: {text[:MAX_BODY_EXCERPT]}"
        if status == 429:
            raise RateLimited(answer, retry_after_s(retry_after, self._clock.now()))
        if status == 408 or status >= 500:
            raise Unavailable(answer)
        if status in (401, 403):
            raise AuthFailed(answer)
        raise Rejected(answer, code=str(status))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``timestamp.body`` under ``secret``."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _message_id(text: str) -> str | None:
    """The receiver's ``id`` for what we sent, when it answers with a JSON object holding one."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if isinstance(data, dict) and data.get("id") is not None:
        return str(data["id"])
    return None
