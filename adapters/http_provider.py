"""Text messages and spoken calls through any HTTP gateway, its request body from a template."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from multidict import CIMultiDict

from adapters.retry_after import retry_after_s
from gateway.clock import Clock, SystemClock
from gateway.config import HttpProviderSettings
from gateway.errors import AuthFailed, RateLimited, Rejected, Unavailable
from gateway.outbox import Job, SendResult
from gateway.templates import compile_template

MAX_BODY_EXCERPT = 200
# Where gateways commonly put the id of what they accepted (Aliyun, Tencent, in-house).
_REF_FIELDS = ("id", "message_id", "messageId", "sid", "BizId", "CallId", "RequestId")


class HttpSms:
    """Sends a delivery's text to ``destination["to"]`` through a configured HTTP API.

    ``settings.body`` (sandboxed Jinja) is given ``to``, ``text``, ``number`` and ``url``;
    for ``GET`` the rendered body becomes the query string. Success is a 2xx answer and,
    with ``ok_json``, the dotted JSON field equal to ``ok_value``. The same class serves
    voice (``channel="voice"``) for text-to-speech gateways.
    """

    def __init__(
        self,
        settings: HttpProviderSettings,
        session: aiohttp.ClientSession,
        channel: str = "sms",
        *,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.channel = channel
        self._session = session
        self._clock = clock or SystemClock()

    async def send(self, job: Job) -> SendResult:
        """Render and send; raises a PlatformError subclass unless the gateway accepted it."""
        body = self._body(job)
        s = self.settings
        url = str(s.url)
        headers = CIMultiDict({"Content-Type": s.content_type, "User-Agent": "ackgate"})
        headers.update(s.headers)  # the operator's win, whatever their case
        data: bytes | None = body.encode()
        if s.method == "GET":
            url, data = _with_query(url, body), None
            headers.pop("Content-Type", None)
        try:
            async with self._session.request(
                s.method, url, data=data, headers=headers, allow_redirects=False
            ) as resp:
                status = resp.status
                text = (await resp.read()).decode("utf-8", errors="replace")
                retry_after = resp.headers.get("Retry-After")
        except aiohttp.InvalidURL:
            raise Rejected(f"{self.channel} gateway url is not valid", code="bad_url") from None
        except aiohttp.ClientError as exc:
            raise Unavailable(
                f"{self.channel} gateway unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        except TimeoutError:
            raise Unavailable(f"{self.channel} gateway did not answer in time") from None
        excerpt = text[:MAX_BODY_EXCERPT]
        answer = f"{self.channel} gateway answered {status}: {excerpt}"
        if status == 429:
            raise RateLimited(answer, retry_after_s(retry_after, self._clock.now()))
        if status == 408 or status >= 500:
            raise Unavailable(answer)
        if status in (401, 403):
            raise AuthFailed(answer)
        if not 200 <= status < 300:
            raise Rejected(answer, code=str(status))
        doc = _json(text)
        if s.ok_json is not None:
            found = _dotted(doc, s.ok_json)
            if found is None or str(found) != s.ok_value:
                raise Rejected(
                    f"{self.channel} gateway refused it ({s.ok_json} = {found!r}): {excerpt}",
                    code=str(found) if found is not None else "no_ok_field",
                )
        return SendResult(message_ref=_reference(doc))

    def _body(self, job: Job) -> str:
        to = job.destination.get("to")
        text = job.payload.get("text")
        if not isinstance(to, str) or not to:
            raise Rejected(f"{self.channel} delivery has no phone number", code="no_to")
        if not isinstance(text, str) or not text.strip():
            raise Rejected(f"{self.channel} delivery has no text", code="no_text")
        values = {
            "to": to,
            "text": text,
            "number": job.payload.get("number"),
            "url": job.payload.get("url"),
        }
        try:
            return compile_template(self.settings.body).render(values)
        # A template can raise anything (syntax, a missing name, the sandbox); it will fail
        # the same way on every retry, so the delivery is given up with the reason.
        except Exception as exc:
            raise Rejected(
                f"{self.channel} body template failed: {type(exc).__name__}: {exc}",
                code="template",
            ) from exc


def _with_query(url: str, query: str) -> str:
    query = query.strip().lstrip("?")
    if not query:
        return url
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _dotted(doc: Any, path: str) -> Any:
    """The value at ``a.b.0.c`` in ``doc`` (list items by index), or None."""
    for part in path.split("."):
        if isinstance(doc, dict):
            doc = doc.get(part)
        elif isinstance(doc, list) and part.isdigit() and int(part) < len(doc):
            doc = doc[int(part)]
        else:
            return None
    return doc


def _reference(doc: Any) -> str | None:
    """The gateway's id for the message, when its JSON answer has one at the top."""
    if isinstance(doc, dict):
        for key in _REF_FIELDS:
            value = doc.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
                return str(value)
    return None
