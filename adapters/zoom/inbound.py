"""``POST /hooks/zoom``: every event the chatbot's Bot Endpoint URL receives, checked first
(``x-zm-signature`` over the raw body, a 5-minute timestamp window, events seen before),
then acted on at once and answered 200; what the bot says back is sent after the answer.

Acted on: slash commands and direct messages (``bot_notification``), buttons
(``interactive_message_actions``), a card's comment field (``interactive_message_fields_editable``:
the text typed is the comment) and its Escalate dropdown (``interactive_message_select``: the
member picked is paged).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from adapters.recent import Recent
from adapters.zoom import signature
from adapters.zoom.acting import ZoomActors
from adapters.zoom.api import ZoomApi
from adapters.zoom.conversation import Conversation, text_content
from cards import callback
from cards.render.zoom import comment_incident, escalate_choice
from gateway import messages
from gateway.config import ZoomSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import ActionRefused, MalformedPayload, NotFound, PlatformError, Unauthorized
from gateway.runtime import Runtime
from gateway.web.keys import RUNTIME

log = logging.getLogger(__name__)

PATH = "/hooks/zoom"
# Zoom wants an answer within 3 s; the bot's own messages go out after it, each this long.
CALL_TIMEOUT_S = 5.0
MAX_SKEW_S = 5 * 60  # a request signed longer ago (or ahead) than this is a replay
MS_TIMESTAMP = 10**11  # a timestamp above this is in milliseconds, not seconds
RECENT_EVENTS = 10_000  # events remembered; Zoom retries one 5, 25 and 85 minutes later
CALLBACK_ID_MAX = 255  # the processed-callback key's column
URL_VALIDATION = "endpoint.url_validation"
COMMAND = "bot_notification"
BUTTON = "interactive_message_actions"
FIELD_EDIT = "interactive_message_fields_editable"
SELECT = "interactive_message_select"
ACTED_ON = frozenset({COMMAND, BUTTON, FIELD_EDIT, SELECT})
LANG = "en"


@dataclass(frozen=True, slots=True)
class Where:
    """Where an answer goes: the conversation, and whom alone it is shown to in a channel."""

    to_jid: str
    visible_to_user: str | None = None


class ZoomInbound:
    """Checks what arrives and hands each event to its handler."""

    def __init__(self, rt: Runtime, settings: ZoomSettings, api: ZoomApi) -> None:
        self.rt = rt
        self.settings = settings
        self.api = api
        self.actors = ZoomActors(rt)
        self.conversation = Conversation(self.actors)
        self.recent: Recent[str] = Recent(RECENT_EVENTS)
        self._secret = settings.secret_token.get_secret_value()
        self._tasks: set[asyncio.Task[None]] = set()

    async def receive(self, body: bytes, headers: Mapping[str, str]) -> JSONObject:
        """The answer to one request; raises Unauthorized and MalformedPayload (4xx)."""
        # Before anything is read: an unsigned URL validation would make us sign any text.
        self._check_signature(body, headers)
        doc = _json(body)
        event, payload = doc.get("event"), _obj(doc.get("payload"))
        if event == URL_VALIDATION:
            plain = payload.get("plainToken")
            if not isinstance(plain, str) or not plain:
                raise MalformedPayload("must be a non-empty string", "payload.plainToken")
            return {
                "plainToken": plain,
                "encryptedToken": signature.encrypted_token(self._secret, plain),
            }
        if not isinstance(event, str) or event not in ACTED_ON:  # a list is unhashable
            log.debug("zoom event %s ignored", event)
            return {}
        if payload.get("accountId") != self.settings.account_id:
            # Our token speaks for one account only: nobody elsewhere can be answered.
            log.warning("zoom %s from account %r ignored", event, payload.get("accountId"))
            return {}
        user_jid, to_jid = _text(payload, "userJid"), _text(payload, "toJid")
        key = event_key(str(event), payload, body)
        if not self.recent.claim(key):
            log.info("zoom %s %s seen before: ignored", event, key)
            return {}
        where = Where(to_jid, _visible_to(to_jid, payload.get("userId")))
        try:
            if event == BUTTON:
                answer = await self._click(payload, user_jid, key)
            elif event == FIELD_EDIT:
                answer = await self._comment(payload, user_jid, key)
            elif event == SELECT:
                answer = await self._escalate_to(payload, user_jid, key)
            else:
                answer = await self.conversation.answer(
                    _command(payload),
                    user_jid=user_jid,
                    callback_id=key,
                    private="@conference." not in to_jid,  # a channel's JID, else a 1:1 chat
                )
        except BaseException:
            self.recent.forget(key)
            raise
        if answer is not None:
            self._spawn(self._tell(where, answer), key)
        return {}

    def _check_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """The signature over the raw body, and the timestamp window."""
        timestamp = headers.get(signature.TIMESTAMP_HEADER)
        given = headers.get(signature.SIGNATURE_HEADER)
        if not timestamp or not given:
            raise Unauthorized("zoom: the request is not signed")
        if not signature.signed(self._secret, timestamp, body, given):
            raise Unauthorized("zoom: bad signature")
        try:
            sent_at = int(timestamp)
        except ValueError:
            raise Unauthorized("zoom: the request timestamp is not a number") from None
        seconds = sent_at / 1000 if sent_at > MS_TIMESTAMP else sent_at
        if abs(self.rt.clock.now().timestamp() - seconds) > MAX_SKEW_S:
            raise Unauthorized("zoom: the request timestamp is outside the 5-minute window")

    async def _click(self, payload: JSONObject, user_jid: str, key: str) -> JSONObject | None:
        """Act on a button; what to tell the clicker (None: the updated card says it)."""
        value = _obj(payload.get("actionItem")).get("value")
        try:
            verb, number = callback.decode(value if isinstance(value, str) else "")
        except MalformedPayload:
            return text_content(messages.text("zoom_bad_button", LANG))
        if verb is Verb.COMMENT:
            # Cards posted before the comment field had a button: the command takes it.
            return text_content(messages.text("zoom_comment_how", LANG, number=number))
        # Escalate without a name pages the policy's next level, as ``escalate 42`` does.
        return await self._act(user_jid, number, verb, {}, key)

    async def _comment(self, payload: JSONObject, user_jid: str, key: str) -> JSONObject | None:
        """Text typed into a card's comment field: add it as a comment."""
        item = _obj(payload.get("fieldEditItem"))
        try:
            number = comment_incident(item.get("key"))
        except MalformedPayload:
            return text_content(messages.text("zoom_bad_button", LANG))
        text = item.get("newValue")
        text = text.strip() if isinstance(text, str) else ""
        if not text:
            return text_content(messages.text("web_comment_empty", LANG))
        # Said back (to the writer alone, in a channel): the field empties again when the
        # card is edited, and a card does not show comments.
        return await self._act(user_jid, number, Verb.COMMENT, {"text": text}, key, told=True)

    async def _escalate_to(self, payload: JSONObject, user_jid: str, key: str) -> JSONObject | None:
        """A member picked in a card's Escalate dropdown: page them."""
        picked = payload.get("selectedItems")
        first = _obj(picked[0]) if isinstance(picked, list) and picked else {}
        try:
            number, member = escalate_choice(first.get("value"))
        except MalformedPayload:
            return text_content(messages.text("zoom_bad_button", LANG))
        return await self._act(user_jid, number, Verb.ESCALATE, {"member": member}, key)

    async def _act(
        self,
        user_jid: str,
        number: int,
        verb: Verb,
        args: JSONObject,
        key: str,
        *,
        told: bool = False,
    ) -> JSONObject | None:
        """Act as the Zoom user; what to tell them (None: the updated card says it, unless
        ``told``)."""
        try:
            outcome = await self.actors.perform(
                user_jid=user_jid, incident=number, verb=verb, args=args, callback_id=key
            )
        except (ActionRefused, NotFound) as refusal:
            return text_content(refusal.message)
        # Every copy of the card is refreshed by the outbox; the user hears of a no-op.
        if told or (not outcome.changed and outcome.code != "duplicate"):
            return text_content(outcome.message)
        return None

    async def _tell(self, where: Where, content: JSONObject) -> None:
        """Send an answer; one Zoom refuses is logged, there is no one else to tell."""
        try:
            await self.api.send(where.to_jid, content, visible_to_user=where.visible_to_user)
        except PlatformError as exc:
            log.warning("zoom answer to %s failed: %s", where.to_jid, exc)

    def _spawn(self, work: Coroutine[Any, Any, None], key: str) -> None:
        task = asyncio.create_task(work, name=f"zoom-answer-{key[:40]}")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("zoom answer failed", exc_info=task.exception())

    async def quiet(self) -> None:
        """Until every answer being sent now has been sent (or failed)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Finish what is being sent (briefly), then cancel the rest."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=CALL_TIMEOUT_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


ZOOM = web.AppKey("zoom_inbound", ZoomInbound)


def add_routes(app: web.Application, settings: ZoomSettings) -> None:
    """Register ``POST /hooks/zoom``; what answers it is built when ``app`` starts."""
    app.cleanup_ctx.append(partial(_inbound, settings=settings))
    app.router.add_post(PATH, handle)


async def handle(request: web.Request) -> web.Response:
    """Hand the raw body and headers (case-insensitive) to ZoomInbound; JSON back."""
    answer = await request.app[ZOOM].receive(await request.read(), request.headers)
    return web.json_response(answer)


async def _inbound(app: web.Application, *, settings: ZoomSettings) -> AsyncIterator[None]:
    session = aiohttp.ClientSession()
    inbound = ZoomInbound(
        app[RUNTIME], settings, ZoomApi(settings, session, timeout_s=CALL_TIMEOUT_S)
    )
    app[ZOOM] = inbound
    yield
    await inbound.close()
    await session.close()


def event_key(event: str, payload: JSONObject, body: bytes) -> str:
    """What tells one event from another (and, in the core, one action from another).

    A click is its message, button, clicker and moment; a field edit or a dropdown pick its
    message, field or choice, person and moment; a command its conversation, writer and
    moment. Without a moment, the body itself.
    """
    moment = payload.get("timestamp")
    if not isinstance(moment, int | str) or isinstance(moment, bool) or moment == "":
        return f"body:{hashlib.sha256(body).hexdigest()}"
    parts: tuple[object, ...]
    if event == BUTTON:
        value = _obj(payload.get("actionItem")).get("value")
        parts = ("click", payload.get("messageId"), value, payload.get("userJid"), moment)
    elif event == FIELD_EDIT:
        field = _obj(payload.get("fieldEditItem")).get("key")
        parts = ("edit", payload.get("messageId"), field, payload.get("userJid"), moment)
    elif event == SELECT:
        picked = payload.get("selectedItems")
        value = _obj(picked[0]).get("value") if isinstance(picked, list) and picked else None
        parts = ("pick", payload.get("messageId"), value, payload.get("userJid"), moment)
    else:
        parts = ("cmd", payload.get("toJid"), payload.get("userJid"), moment)
    key = ":".join(str(p) for p in parts)
    if len(key) > CALLBACK_ID_MAX:
        return f"{parts[0]}:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def _visible_to(to_jid: str, user_id: object) -> str | None:
    """In a channel, an answer is shown to the person who asked only; a DM is theirs anyway."""
    if "@conference." in to_jid and isinstance(user_id, str) and user_id:
        return user_id
    return None


def _command(payload: JSONObject) -> str:
    cmd = payload.get("cmd")
    if not isinstance(cmd, str):
        raise MalformedPayload("must be a string", "payload.cmd")
    return cmd


def _json(raw: bytes) -> JSONObject:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise MalformedPayload("is not JSON", "body") from None
    if not isinstance(doc, dict):
        raise MalformedPayload("must be a JSON object", "body")
    return doc


def _obj(value: object) -> JSONObject:
    return value if isinstance(value, dict) else {}


def _text(payload: JSONObject, name: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedPayload("must be a non-empty string", f"payload.{name}")
    return value
