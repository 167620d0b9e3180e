"""What DingTalk delivers, whether over Stream or HTTP: card button clicks (acted on and
answered with the card as it is now) and chatbot messages (text commands, answered after)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine, Mapping
from datetime import datetime
from functools import partial
from typing import Any

from aiohttp import web

from adapters.dingtalk.acting import LANG, DingtalkActors
from adapters.dingtalk.api import DingtalkApi
from adapters.dingtalk.conversation import Conversation, command_text
from adapters.recent import Recent
from cards import callback
from cards.build import Viewer, build_card
from cards.render.dingtalk import card_data, render_card
from gateway import messages, queries
from gateway.config import DingtalkSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import ActionRefused, MalformedPayload, NotFound, PlatformError
from gateway.runtime import Runtime
from gateway.wire import card_json

log = logging.getLogger(__name__)

CHATBOT_TOPIC = "/v1.0/im/bot/messages/get"
CARD_TOPIC = "/v1.0/card/instances/callback"
GROUP = "2"  # conversationType: "1" a direct message, "2" a group
RECENT_MESSAGES = 10_000  # msgIds remembered; DingTalk redelivers what was not acked
CLOSE_WAIT_S = 2.0  # on shutdown, replies under way get this long to finish
# The key a StandardCard's whole JSON travels under when a callback's answer replaces it.
# Our notes saw ``{"cardData": {"cardParamMap": {…}}}`` answers update a card in place; for
# a template-free card the map's one entry is the card itself. Not verified on a tenant:
# every copy (the clicked one too) is also updated through the outbox.
FULL_CARD_KEY = "sys_full_json_obj"


def card_answer(doc: JSONObject) -> JSONObject:
    """A card callback's answer that shows the StandardCard ``doc`` in place of the clicked one."""
    return {"cardData": {"cardParamMap": {FULL_CARD_KEY: card_data(doc)}}}


def action_data(click: Mapping[str, Any]) -> str:
    """The button's callback data in a card click (its ``id``, among ``actionIds``)."""
    raw = click.get("content") or click.get("value")
    try:
        doc = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return ""
    private = _obj(_obj(doc).get("cardPrivateData"))
    ids = private.get("actionIds")
    params = _obj(private.get("params"))
    found = [*(ids if isinstance(ids, list) else ()), *params.values()]
    ours = [v for v in found if isinstance(v, str) and v.startswith(f"{callback.VERSION}:")]
    first = ours or [v for v in found if isinstance(v, str)]
    return first[0] if first else ""


class DingtalkHandlers:
    """Turns clicks and messages into ``gateway`` calls, and outcomes into answers."""

    def __init__(self, rt: Runtime, settings: DingtalkSettings, api: DingtalkApi) -> None:
        self.rt = rt
        self.settings = settings
        self.api = api
        self.actors = DingtalkActors(rt, api)
        self.conversation = Conversation(self.actors)
        self.recent: Recent[str] = Recent(RECENT_MESSAGES)
        self._tasks: set[asyncio.Task[None]] = set()

    # --- card clicks -----------------------------------------------------------------------

    async def card_callback(self, click: Mapping[str, Any], callback_id: str | None) -> JSONObject:
        """The click's answer: the card as the incident is now, or ``{}`` (nothing changes).

        Refusals and mistakes are told to the clicker in a direct message from the robot;
        other copies of the card are refreshed by the outbox. Raises MalformedPayload when
        the click names nobody.
        """
        staff_id = click.get("userId")
        if not isinstance(staff_id, str) or not staff_id:
            raise MalformedPayload("has no userId", "card callback")
        try:
            verb, number = callback.decode(action_data(click))
        except MalformedPayload as exc:
            log.info("dingtalk card callback not ours (%s) from %s", exc, staff_id)
            await self._tell(staff_id, messages.text("dingtalk_bad_button", LANG))
            return {}
        if verb is Verb.COMMENT:
            # A StandardCard has no text box to ask in: the command takes the comment.
            await self._tell(staff_id, messages.text("dingtalk_comment_how", LANG, number=number))
            return {}
        try:
            await self.actors.perform(
                staff_id=staff_id, incident=number, verb=verb, callback_id=callback_id
            )
        except (ActionRefused, NotFound) as refusal:
            await self._tell(staff_id, refusal.message)
            return {}
        doc = await self._card(number)
        return card_answer(doc) if doc is not None else {}

    async def _card(self, number: int) -> JSONObject | None:
        """The card as the incident is now, or None when the outbox must bring it.

        It carries the incident page's plain link: the answer replaces a card everyone in the
        chat sees, so no member's signed link may be in it (the outbox's update of a DM copy
        puts that member's link back). A service with its own card wording for chat gets no
        card here: that wording is rendered by the core, and the outbox's update has it.
        """
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return None
        service = self.rt.settings.services.get(incident.service)
        if service is None or (
            service.templates is not None and service.templates.for_channel("dingtalk")
        ):
            return None
        buttons = frozenset(service.card_buttons) if service.card_buttons is not None else None
        link = f"{self.rt.settings.server.base_url}/incidents/{number}"
        card = build_card(card_json(incident), Viewer(lang=LANG, link=link, buttons=buttons))
        return render_card(card)

    async def _tell(self, staff_id: str, text: str) -> None:
        """A direct message from the robot; one DingTalk refuses is logged (no one else to tell)."""
        try:
            await self.api.send_user_text([staff_id], text)
        except PlatformError as exc:
            log.warning("dingtalk message to %s failed: %s", staff_id, exc)

    # --- chatbot messages ------------------------------------------------------------------

    def chatbot_message(self, message: Mapping[str, Any]) -> None:
        """Accept one message for answering; returns at once (the answer comes after).

        A message seen before (by ``msgId``) is left alone. Raises MalformedPayload when it
        has no ``msgId``.
        """
        msg_id = message.get("msgId")
        if not isinstance(msg_id, str) or not msg_id:
            raise MalformedPayload("has no msgId", "chatbot message")
        if not self.recent.claim(msg_id):
            log.info("dingtalk message %s seen before: ignored", msg_id)
            return
        self._spawn(self._answer(message, msg_id), msg_id)

    async def _answer(self, message: Mapping[str, Any], msg_id: str) -> None:
        staff_id = message.get("senderStaffId")
        if not isinstance(staff_id, str) or not staff_id:
            # Someone outside the organization (or a robot): no account to act as.
            log.info("dingtalk message %s has no senderStaffId: not answered", msg_id)
            return
        if message.get("msgtype") != "text":
            await self._reply(message, staff_id, messages.text("dingtalk_text_only", LANG))
            return
        content = _obj(message.get("text")).get("content")
        mentioned = [
            str(user["staffId"])
            for user in message.get("atUsers") or ()
            if isinstance(user, Mapping) and user.get("staffId")
        ]
        text = command_text(
            content if isinstance(content, str) else "",
            group=message.get("conversationType") == GROUP,
            mentioned=mentioned,
        )
        said = await self.conversation.answer(
            text,
            staff_id=staff_id,
            callback_id=f"msg:{msg_id}",
            private=message.get("conversationType") != GROUP,
        )
        await self._reply(message, staff_id, said)

    async def _reply(self, message: Mapping[str, Any], staff_id: str, text: str) -> None:
        """Answer in the message's conversation: its ``sessionWebhook`` while that is valid
        and DingTalk's, else the robot's send APIs. A refused answer is logged."""
        group = message.get("conversationType") == GROUP
        webhook = message.get("sessionWebhook")
        try:
            if isinstance(webhook, str) and self._usable(webhook, message):
                at = [staff_id] if group else []
                await self.api.reply_in_session(webhook, text, at_user_ids=at)
            elif group and isinstance(message.get("conversationId"), str):
                await self.api.send_group_text(str(message["conversationId"]), text)
            else:
                await self.api.send_user_text([staff_id], text)
        except PlatformError as exc:
            log.warning("dingtalk reply to %s failed: %s", message.get("msgId"), exc)

    def _usable(self, webhook: str, message: Mapping[str, Any]) -> bool:
        if not self.api.may_post_to(webhook):
            log.warning(
                "dingtalk message %s: sessionWebhook is not DingTalk's", message.get("msgId")
            )
            return False
        expires_ms = message.get("sessionWebhookExpiredTime")
        if isinstance(expires_ms, int | float) and not isinstance(expires_ms, bool):
            return _ms(self.rt.clock.now()) < expires_ms
        return True

    # --- background answers ----------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None], msg_id: str) -> None:
        task = asyncio.create_task(work, name=f"dingtalk-message-{msg_id}")
        self._tasks.add(task)
        task.add_done_callback(partial(self._done, msg_id=msg_id))

    def _done(self, task: asyncio.Task[None], *, msg_id: str) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.recent.forget(msg_id)  # DingTalk's redelivery may succeed
            log.error("dingtalk message %s failed", msg_id, exc_info=error)

    async def quiet(self) -> None:
        """Until every message being answered now has been answered (or failed)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Finish what is being answered (briefly), then cancel the rest."""
        tasks = list(self._tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=CLOSE_WAIT_S)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


HANDLERS = web.AppKey("dingtalk_handlers", DingtalkHandlers)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
