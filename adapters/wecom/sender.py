"""Sends incident cards to members as WeCom app messages, and updates them when WeCom lets us.

The update rule. WeCom changes a sent template card only with a one-shot ``response_code``
(see ``adapters.wecom.codes``): one comes with the send, one with every click. So an
``update``:

1. is skipped when the card already shows exactly this (a click drew it a moment ago);
2. else spends the card's unused code, if this process holds one, on
   ``update_template_card`` with the whole new card;
3. else leaves the card as it is, and the delivery counts as done. It is not replaced by a
   new DM: the outbox keeps updating the first card (a new one would never be updated),
   each new card would cost one of the member's 30 messages a minute (past that WeCom
   drops them silently), and the old card is not wrong for long: any click on it, the
   Refresh button first of all, acts on the incident as it is now and redraws the card.

So the first change after a card is sent always reaches it (the REST or web ack of a
paged incident, typically); later ones reach it with the member's next click.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.wecom.api import WecomApi
from adapters.wecom.codes import ResponseCodes, shared
from adapters.wecom.errors import CODE_DUPLICATE_TASK
from cards.build import Viewer, build_card
from cards.model import ELLIPSIS
from cards.render.wecom import render_card, task_id
from gateway import messages
from gateway.config import WecomSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import PlatformError, Rejected
from gateway.outbox import Job, Pace, SendResult

log = logging.getLogger(__name__)

LANG = "en"
TEXT_MAX_BYTES = 2048  # text.content of an app message, UTF-8
NONCE_EVENT_CHARS = 12  # of the event id: makes task ids unique across installs
# WeCom's published cap (our platform notes §3.1; 访问频率限制): an app sends one member at
# most 30 messages a minute and 1,000 an hour, and WeCom drops what goes past it without a
# word. Both are kept at once: 30 at a time, and never more than 30 in any 108 s (with the
# outbox's margin, at most 930 an hour). Cards, their lines and their updates all count.
# Never merged: an app card goes to one member, never to a group chat, so there is no chat
# for a digest card to stand in.
MEMBER_PACE = (30, 108.0)
GROUP_HINT = (
    "a WeCom app card goes to one member at a time (touser), never to a group chat: for a "
    'group, add a destination of kind = "wecom_bot" with the group robot\'s webhook url'
)


class WecomSender:
    """The outbox's sender for ``channel = "wecom"``: ``op`` ``post``, ``update``, ``reply``.

    No retries here: a failure is raised as a PlatformError and the outbox retries it.
    """

    channel = "wecom"

    def __init__(
        self,
        settings: WecomSettings,
        session: aiohttp.ClientSession,
        *,
        codes: ResponseCodes | None = None,
    ) -> None:
        self._settings = settings
        self._api = WecomApi(settings, session)
        self._codes = codes if codes is not None else shared(settings.corp_id, settings.agent_id)

    def pace(self, job: Job) -> Pace | None:
        """Everything sent to a member counts against that member's cap; it only waits."""
        op, dest = job.payload.get("op"), job.destination
        if op == "post":
            user = dest.get("dm")
            if user is None or not self._settings.dm_assignees:
                return None  # nothing is sent
        elif op in ("update", "reply"):
            user = dest.get("chat")  # a card's chat is its member
        else:
            return None
        if not isinstance(user, str) or not user:
            return None
        return Pace(f"wecom:member:{user}", *MEMBER_PACE, digest_after=None)

    async def send(self, job: Job) -> SendResult:
        """Post, update or answer one card; raises a PlatformError when WeCom says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        raise Rejected(f"wecom delivery has no known op: {op!r}", code="bad_op")

    async def _post(self, job: Job) -> SendResult:
        dest = job.destination
        user = dest.get("dm")
        if user is None:
            raise Rejected(f"wecom: {GROUP_HINT}", code="not_a_member")
        if not self._settings.dm_assignees:
            # The core writes a DM for everyone paged; this app asked for none.
            log.debug("delivery %s: wecom.dm_assignees is off, DM skipped", job.delivery_id)
            return SendResult()
        user_id = _text(user, "dm")
        task = task_id(job.incident_id, nonce(job))
        card = _card(job, task)
        try:
            sent = await self._api.send_card(user_id, card)
        except Rejected as exc:
            if exc.code != str(CODE_DUPLICATE_TASK):
                raise
            # The task id is this delivery's own: an earlier attempt was delivered, its
            # answer lost. The card is there; only its update code is gone.
            log.info("delivery %s: card %s was already sent", job.delivery_id, task)
            return SendResult(message_ref=task, chat_id=user_id)
        if sent.response_code:
            self._codes.keep(task, sent.response_code)
        self._codes.drew(task, card)
        return SendResult(message_ref=task, chat_id=user_id)

    async def _update(self, job: Job) -> SendResult:
        """Redraw the card if WeCom lets us now (see the module's update rule)."""
        user_id = _text(job.destination.get("chat"), "chat")
        task = _text(job.destination.get("message"), "message")
        card = _card(job, task)
        if self._codes.shows(task, card):
            log.debug("delivery %s: card %s already shows this", job.delivery_id, task)
            return SendResult()
        code = self._codes.take(task)
        if code is None:
            log.info(
                "delivery %s: card %s has no update code left; its next click redraws it",
                job.delivery_id,
                task,
            )
            return SendResult()
        try:
            await self._api.update_card(user_id, code, card)
        except Rejected as exc:
            # The code was spent or expired, or the card is gone: nothing to retry.
            log.warning("delivery %s: card %s not updated: %s", job.delivery_id, task, exc)
            return SendResult()
        except PlatformError:
            self._codes.keep(task, code)  # not spent: the retry may use it
            raise
        self._codes.drew(task, card)
        return SendResult()

    async def _reply(self, job: Job) -> SendResult:
        """A text message to the card's member saying what changed (``thread_replies``)."""
        user_id = _text(job.destination.get("chat"), "chat")
        entry = job.payload.get("entry")
        line = reply_line(job.incident_id, entry, job.lang) if isinstance(entry, Mapping) else None
        if line:
            await self._api.send_text(user_id, fit_bytes(line, TEXT_MAX_BYTES))
        return SendResult()


def nonce(job: Job) -> str:
    """What makes a delivery's task id its own, and the same on every retry of it.

    The delivery id is unique in this database; the event id (random, written with the
    delivery) keeps two gateways (or a reinstalled one) on one WeCom app apart.
    """
    event = "".join(c for c in str(job.payload.get("event_id") or "") if c.isalnum())
    return f"{job.delivery_id}-{event[:NONCE_EVENT_CHARS]}" if event else str(job.delivery_id)


def card_for(
    incident: JSONObject, task: str, url: str | None, buttons: Any = None, lang: str = LANG
) -> JSONObject:
    """The template card for incident JSON ``incident`` as ``task``, opening ``url``."""
    viewer = Viewer(
        lang=lang,
        link=url,
        buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
    )
    return render_card(build_card(incident, viewer), task, viewer.lang)


def reply_line(number: int, entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """``#42: 10:02 alice acknowledged (web)``: a timeline entry as the card words it."""
    kind = str(entry.get("kind") or "")
    if not kind or kind == "triggered":
        return None
    try:
        word = messages.text(f"card_kind_{kind}", lang)
    except KeyError:
        word = kind.replace("_", " ")
    at = str(entry.get("at") or "")
    actor = entry.get("actor")
    line = messages.text(
        "card_entry_by" if actor else "card_entry",
        lang,
        at=at[11:16] if len(at) >= 16 else "--:--",
        actor=actor,
        kind=word,
        source=entry.get("source") or "?",
    )
    return f"#{number}: {line}"


def fit_bytes(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, ending in "…" when it was cut."""
    if len(text.encode()) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode())
    return text.encode()[:room].decode(errors="ignore").rstrip() + ELLIPSIS


def _card(job: Job, task: str) -> JSONObject:
    incident = job.payload.get("incident")
    if not isinstance(incident, dict):
        raise Rejected("wecom delivery has no incident card", code="no_incident")
    url = job.payload.get("url")
    buttons = job.payload.get("buttons")
    return card_for(incident, task, url if isinstance(url, str) else None, buttons, job.lang)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"wecom destination has no {field}", code=f"no_{field}")
    return value
