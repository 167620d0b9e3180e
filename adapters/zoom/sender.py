"""Posts incident cards to Zoom channels and to people (the bot's DM with them), and keeps
every posted card up to date."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.zoom.api import ZoomApi
from adapters.zoom.views import card_content
from cards.build import Viewer
from cards.lines import event_line
from gateway.config import MemberSettings, ZoomSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import Rejected
from gateway.outbox import Job, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
CALL_TIMEOUT_S = 5.0  # per API call; the outbox bounds the whole send too


class ZoomSender:
    """The outbox's sender for ``channel = "zoom"``: ``op`` ``post``, ``update``, ``reply``.

    A card goes to ``to_jid``: the channel JID of ``{"chat": …}``, or the user JID of
    ``{"dm": …}`` (Zoom delivers that to the bot's conversation with the person). A card's
    Escalate dropdown lists ``members`` (the configuration's). No retries here: a failure is
    raised as a PlatformError and the outbox retries it.
    """

    channel = "zoom"

    def __init__(
        self,
        settings: ZoomSettings,
        session: aiohttp.ClientSession,
        *,
        members: Mapping[str, MemberSettings] | None = None,
    ) -> None:
        self._settings = settings
        self._members: Mapping[str, MemberSettings] = members or {}
        self._api = ZoomApi(settings, session, timeout_s=CALL_TIMEOUT_S)

    async def send(self, job: Job) -> SendResult:
        """Post, update or reply to one card; raises a PlatformError when Zoom says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        raise Rejected(f"zoom delivery has no known op: {op!r}", code="bad_op")

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
        line = reply_line(entry, LANG) if isinstance(entry, Mapping) else None
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
        lang=LANG,
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
