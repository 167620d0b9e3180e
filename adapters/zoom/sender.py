"""Posts incident cards to Zoom channels and to people (the bot's DM with them), and keeps
every posted card up to date."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Literal

import aiohttp

from adapters.zoom.api import ZoomApi
from adapters.zoom.views import card_content
from cards.build import Viewer, digest_of
from cards.lines import event_line
from cards.render.zoom import render_digest
from gateway.config import MemberSettings, ZoomSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import Rejected
from gateway.outbox import Cap, Job, Pace, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
CALL_TIMEOUT_S = 5.0  # per API call; the outbox bounds the whole send too

# Zoom's published limits (developers.zoom.us/docs/api/rate-limits, "Rate limits by account
# type"; the chatbot API reference labels both Send, POST /v2/im/chat/messages, and Edit,
# PUT /v2/im/chat/messages/{message_id}, "Medium"): per account, shared by every app
# installed on it, by plan: Free 2 a second and 2,000 a day, Pro 20 a second, Business+
# (Business, Education, Enterprise, Partner) 60 a second; ``[zoom] plan`` says which (Pro
# unless told). Zoom resets a daily limit at 00:00 UTC; a
# day here is any 24 h, which is stricter. Send and Edit count together (Zoom groups its
# limits by label; that they share one is the safe reading). No limit per channel or per
# person is published. A channel keeps to CHANNEL_RATE a second at most (as a Feishu group
# does), so that one channel's storm leaves most of the account's rate to the DMs that page
# people and to edits, and is seen (past DIGEST_AFTER cards waiting, a digest card takes
# them) before it floods the channel; a person's DM, and edits (under their own key), keep
# to the account's rate and never merge. Every send also counts against the account's caps,
# which every channel, DM and edit share.
Plan = Literal["free", "pro", "business"]
PER_SECOND, PER_DAY = "zoom:medium:second", "zoom:medium:day"
MEDIUM_CAPS: Mapping[Plan, tuple[Cap, ...]] = {
    "free": (Cap(PER_SECOND, 2, 1.0), Cap(PER_DAY, 2_000, 86_400.0)),
    "pro": (Cap(PER_SECOND, 20, 1.0),),
    "business": (Cap(PER_SECOND, 60, 1.0),),
}
DEFAULT_PLAN: Plan = "pro"
CHANNEL_RATE = 5
DIGEST_AFTER = 5


class ZoomSender:
    """The outbox's sender for ``channel = "zoom"``: ``op`` ``post``, ``update``, ``reply``,
    ``digest``.

    A card goes to ``to_jid``: the channel JID of ``{"chat": …}``, or the user JID of
    ``{"dm": …}`` (Zoom delivers that to the bot's conversation with the person). A card's
    Escalate dropdown lists ``members`` (the configuration's). Sends keep to the limits of
    the account's ``plan`` (Pro unless told). No retries here: a failure is raised as a
    PlatformError and the outbox retries it.
    """

    channel = "zoom"

    def __init__(
        self,
        settings: ZoomSettings,
        session: aiohttp.ClientSession,
        *,
        members: Mapping[str, MemberSettings] | None = None,
        plan: Plan = DEFAULT_PLAN,
    ) -> None:
        self._settings = settings
        self._members: Mapping[str, MemberSettings] = members or {}
        self._api = ZoomApi(settings, session, timeout_s=CALL_TIMEOUT_S)
        self._caps = MEDIUM_CAPS[plan]
        rate = self._caps[0]  # the account's, a second
        self._rate = (rate.count, rate.per_s)
        self._channel_rate = (min(CHANNEL_RATE, rate.count), rate.per_s)

    def pace(self, job: Job) -> Pace | None:
        """Messages count against their channel's (or person's) rate, edits against their
        own; every one against the account's caps."""
        op, dest = job.payload.get("op"), job.destination
        if op == "update":
            return Pace("zoom:edit", *self._rate, digest_after=None, shared=self._caps)
        if dest.get("dm") is not None:
            if op != "post" or not self._settings.dm_assignees:
                return None  # nothing is sent
            return self._person(str(dest["dm"]))
        chat = dest.get("chat")
        if op == "reply" and dest.get("reader") and chat:  # under a card in a DM
            return self._person(str(chat))  # a DM card's chat is the person's JID
        if op in ("post", "reply", "digest") and chat:
            return Pace(
                f"zoom:chat:{chat}",
                *self._channel_rate,
                digest_after=DIGEST_AFTER,
                shared=self._caps,
            )
        return None

    def _person(self, jid: str) -> Pace:
        return Pace(f"zoom:dm:{jid}", *self._rate, digest_after=None, shared=self._caps)

    async def send(self, job: Job) -> SendResult:
        """Post, update or reply to one card, or post or add to a digest card; raises a
        PlatformError when Zoom says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        if op == "digest":
            return await self._digest(job)
        raise Rejected(f"zoom delivery has no known op: {op!r}", code="bad_op")

    async def _digest(self, job: Job) -> SendResult:
        """Post a storm's digest card, or edit the one already there to add to it."""
        to_jid = _text(job.destination.get("chat"), "chat")
        content = render_digest(digest_of(job.payload, job.lang))
        message_id = job.destination.get("message")
        if isinstance(message_id, str) and message_id:
            await self._api.edit(message_id, content)
            return SendResult(message_ref=message_id, chat_id=to_jid)
        sent = await self._api.send(to_jid, content)
        posted = sent.get("message_id")
        if not isinstance(posted, str) or not posted:
            # Delivered (sending again would post it twice), but it can never be added to.
            log.warning(
                "delivery %s: zoom gave no message_id, the digest stays as sent", job.delivery_id
            )
            return SendResult(chat_id=to_jid)
        return SendResult(message_ref=posted, chat_id=to_jid)

    async def _post(self, job: Job) -> SendResult:
        dest = job.destination
        user = dest.get("dm")
        if user is not None:
            if not self._settings.dm_assignees:
                # The core writes a DM for everyone paged; this gateway asked for none.
                log.debug("delivery %s: zoom.dm_assignees is off, DM skipped", job.delivery_id)
                return SendResult()
            to_jid = _text(user, "dm")
        else:
            to_jid = _text(dest.get("chat"), "chat")
        sent = await self._api.send(to_jid, _content(job, self._members))
        message_id = sent.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            # Delivered (sending again would post it twice), but it can never be updated.
            log.warning(
                "delivery %s: zoom gave no message_id, the card stays as sent", job.delivery_id
            )
            return SendResult()
        return SendResult(message_ref=message_id, chat_id=to_jid)

    async def _update(self, job: Job) -> SendResult:
        message_id = _text(job.destination.get("message"), "message")
        await self._api.edit(message_id, _content(job, self._members))
        return SendResult()

    async def _reply(self, job: Job) -> SendResult:
        """One short line threaded under the card (``reply_to``), saying what changed."""
        to_jid = _text(job.destination.get("chat"), "chat")
        message_id = _text(job.destination.get("message"), "message")
        entry = job.payload.get("entry")
        line = reply_line(entry, job.lang) if isinstance(entry, Mapping) else None
        if line:
            content: JSONObject = {"body": [{"type": "message", "text": line}]}
            await self._api.send(to_jid, content, reply_to=message_id)
        return SendResult()


def _content(job: Job, members: Mapping[str, MemberSettings]) -> JSONObject:
    incident = job.payload.get("incident")
    if not isinstance(incident, dict):
        raise Rejected("zoom delivery has no incident card", code="no_incident")
    url = job.payload.get("url")
    buttons = job.payload.get("buttons")
    viewer = Viewer(
        lang=job.lang,
        link=url if isinstance(url, str) else None,
        buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
    )
    return card_content(incident, viewer, members)


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"zoom destination has no {field}", code=f"no_{field}")
    return value


def reply_line(entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """The plain line posted under a card for a timeline entry (None: the card says it all)."""
    return event_line(entry, lang, max_chars=REPLY_MAX)
