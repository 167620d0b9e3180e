"""Posts incident cards to Slack channels and DMs, and keeps every posted card up to date."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import call
from cards.build import Viewer, build_card, digest_of
from cards.lines import event_line
from cards.render.slack import render_digest, render_message
from gateway.config import SlackSettings
from gateway.domain import JSONObject, Verb
from gateway.errors import Rejected
from gateway.outbox import Job, Pace, SendResult

log = logging.getLogger(__name__)

LANG = "en"
THREAD_REPLY_MAX = 500  # one short line under the card, not a second card
# Slack's published limits: about one message per second per channel, short bursts allowed
# (the outbox keeps there: up to DIGEST_AFTER cards wait their turn, past that a digest card
# takes them), and chat.update at Tier 3 (50 a minute per workspace).
POST_PACE = (3, 3.0)
DIGEST_AFTER = 5
UPDATE_PACE = (50, 60.0)


class SlackSender:
    """The outbox's sender for ``channel = "slack"``: ``op`` ``post`` or ``update``.

    No retries here: a failure is raised as a PlatformError and the outbox retries it.
    """

    channel = "slack"

    def __init__(self, settings: SlackSettings, session: aiohttp.ClientSession) -> None:
        self._settings = settings
        self._client = AsyncWebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=str(settings.api_base_url),
            session=session,
            retry_handlers=[],
        )

    def pace(self, job: Job) -> Pace | None:
        """Posts count against their channel's cap, updates against the workspace's."""
        op, dest = job.payload.get("op"), job.destination
        if op == "update":
            return Pace("slack:update", *UPDATE_PACE, digest_after=None)
        if dest.get("dm") is not None:
            if not self._settings.dm_assignees:
                return None  # nothing is sent
            who = dest.get("member") or dest["dm"]
            return Pace(f"slack:dm:{who}", *POST_PACE, digest_after=None)
        if op == "reply" and dest.get("reader"):  # under a card in a direct message
            return Pace(f"slack:dm:{dest['reader']}", *POST_PACE, digest_after=None)
        if op in ("post", "reply", "digest") and dest.get("chat"):
            return Pace(f"slack:chat:{dest['chat']}", *POST_PACE, digest_after=DIGEST_AFTER)
        return None

    async def send(self, job: Job) -> SendResult:
        """Post or update one card; raises a PlatformError subclass when Slack says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        if op == "digest":
            return await self._digest(job)
        raise Rejected(f"slack delivery has no known op: {op!r}", code="bad_op")

    async def _digest(self, job: Job) -> SendResult:
        """Post a storm's digest card, or add to the one already there."""
        channel = _text(job.destination.get("chat"), "chat")
        digest = digest_of(job.payload, job.lang)
        message = render_digest(digest)
        ts = job.destination.get("message")
        if isinstance(ts, str) and ts:
            await call(self._client.chat_update(channel=channel, ts=ts, **message))
            return SendResult(message_ref=ts, chat_id=channel)
        posted = await call(
            self._client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **message
            )
        )
        return SendResult(message_ref=str(posted["ts"]), chat_id=str(posted["channel"]))

    async def _post(self, job: Job) -> SendResult:
        dest = job.destination
        user = dest.get("dm")
        if user is not None:
            if not self._settings.dm_assignees:
                # The core writes a DM for everyone paged; this workspace asked for none.
                log.debug("delivery %s: slack.dm_assignees is off, DM skipped", job.delivery_id)
                return SendResult()
            opened = await call(self._client.conversations_open(users=_text(user, "dm")))
            channel = str(opened["channel"]["id"])
        else:
            channel = _text(dest.get("chat"), "chat")
        posted = await call(
            self._client.chat_postMessage(
                channel=channel, unfurl_links=False, unfurl_media=False, **_message(job)
            )
        )
        return SendResult(message_ref=str(posted["ts"]), chat_id=str(posted["channel"]))

    async def _update(self, job: Job) -> SendResult:
        channel = _text(job.destination.get("chat"), "chat")
        ts = _text(job.destination.get("message"), "message")
        await call(self._client.chat_update(channel=channel, ts=ts, **_message(job)))
        return SendResult()

    async def _reply(self, job: Job) -> SendResult:
        """One short line under the card saying what changed (never superseded, so none is lost)."""
        channel = _text(job.destination.get("chat"), "chat")
        ts = _text(job.destination.get("message"), "message")
        entry = job.payload.get("entry")
        reply = thread_reply(entry, job.lang) if isinstance(entry, Mapping) else None
        if reply:
            await call(self._client.chat_postMessage(channel=channel, thread_ts=ts, text=reply))
        return SendResult()


def _message(job: Job) -> JSONObject:
    incident = job.payload.get("incident")
    if not isinstance(incident, dict):
        raise Rejected("slack delivery has no incident card", code="no_incident")
    url = job.payload.get("url")
    buttons = job.payload.get("buttons")
    viewer = Viewer(
        lang=job.lang,
        link=url if isinstance(url, str) else None,
        buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
    )
    return render_message(build_card(incident, viewer))


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"slack destination has no {field}", code=f"no_{field}")
    return value


def thread_reply(entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """The one line posted under a card for a timeline entry (None: the card says it all)."""
    return event_line(entry, lang, escape=_escape, max_chars=THREAD_REPLY_MAX)


def _escape(text: str) -> str:
    """Comments come from people: they must not ping ``<!channel>`` from the bot's mouth."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
