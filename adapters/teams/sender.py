"""Posts incident cards to Teams channels, chats and 1:1 chats, and keeps every posted card up
to date."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from adapters.teams.addresses import KNOWN, Address, conversation_root, parse, resolve, thread_of
from adapters.teams.connector import ConnectorApi
from adapters.teams.views import card_message, incident_card, text_message
from cards.build import digest_of
from cards.lines import event_line
from cards.render.teams import MESSAGE_MAX_BYTES, render_digest, size
from gateway.config import Settings
from gateway.domain import JSONObject, Verb
from gateway.errors import ConfigError, Rejected
from gateway.outbox import Job, Pace, SendResult

log = logging.getLogger(__name__)

LANG = "en"
REPLY_MAX = 500  # one short line under the card, not a second card
CALL_TIMEOUT_S = 10.0  # per Bot Connector call; the outbox bounds the whole send too
# The Bot Connector's published limits per bot per conversation ("thread", in our platform
# notes and Microsoft's rate-limit page): 7 in 1 s, 8 in 2 s, 60 in 30 s, 1,800 in an hour,
# for every call alike (posts, replies, updates). In a storm the binding one is 60 in 30 s
# (past the first second's 7, 2 a second): a channel or group chat keeps to 5 in any 2.5 s,
# which holds the 1 s, 2 s and 30 s windows at once, in bursts short enough that a storm is
# seen after 5 cards (up to DIGEST_AFTER cards wait their turn, past that a digest card
# takes them). The hour's 1,800 applies to a bot writing to one person (Microsoft's answer
# on that page): a 1:1 chat keeps to it, and never merges. Its cards and replies are counted
# under the member and its updates under the chat (an update's destination does not say
# whose chat it is): each gets half, 3 in any 11 s.
THREAD_PACE = (5, 2.5)
PERSONAL_PACE = (3, 11.0)
DIGEST_AFTER = 5
GROUP_PREFIX = "19:"  # channels and group chats; a 1:1 chat's id starts "a:"


class TeamsSender:
    """The outbox's sender for ``channel = "teams"``: ``op`` ``post``, ``update``, ``reply``.

    Takes the whole Settings: a card's Escalate form lists the members. No retries here: a
    failure is raised as a PlatformError and the outbox retries it.
    """

    channel = "teams"

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        if settings.teams is None:
            raise ConfigError(["teams: the [teams] section is needed to send to Teams"])
        self._settings = settings
        self._teams = settings.teams
        self._api = ConnectorApi(settings.teams, session, timeout_s=CALL_TIMEOUT_S)

    def pace(self, job: Job) -> Pace | None:
        """Every call counts against its conversation's cap (a 1:1 chat's, or a channel's or
        group chat's, its threads included)."""
        op, dest = job.payload.get("op"), job.destination
        if op not in ("post", "update", "reply", "digest"):
            return None
        if dest.get("dm") is not None:
            if op != "post" or not self._teams.dm_assignees:
                return None  # nothing is sent
            who = dest.get("member") or dest["dm"]
            return Pace(f"teams:dm:{who}", *PERSONAL_PACE, digest_after=None)
        if op == "reply" and dest.get("reader"):  # under a card in a 1:1 chat
            return Pace(f"teams:dm:{dest['reader']}", *PERSONAL_PACE, digest_after=None)
        chat = dest.get("chat")
        if not isinstance(chat, str) or not chat:
            return None
        conversation = conversation_root(parse(chat)[1])
        if not conversation.startswith(GROUP_PREFIX):
            return Pace(f"teams:chat:{conversation}", *PERSONAL_PACE, digest_after=None)
        return Pace(f"teams:chat:{conversation}", *THREAD_PACE, digest_after=DIGEST_AFTER)

    async def send(self, job: Job) -> SendResult:
        """Post, update or reply to one card, or post or add to a digest card; raises a
        PlatformError when Teams says no."""
        op = job.payload.get("op")
        if op == "post":
            return await self._post(job)
        if op == "update":
            return await self._update(job)
        if op == "reply":
            return await self._reply(job)
        if op == "digest":
            return await self._digest(job)
        raise Rejected(f"teams delivery has no known op: {op!r}", code="bad_op")

    async def _digest(self, job: Job) -> SendResult:
        """Post a storm's digest card, or update the one already there to add to it."""
        chat = _text(job.destination.get("chat"), "chat")
        where = resolve(chat)
        digest = digest_of(job.payload, job.lang)
        message = card_message(render_digest(digest), digest.headline)
        if size(message) > MESSAGE_MAX_BYTES:
            # The renderer cuts titles until it fits: only a broken digest gets here.
            raise Rejected(
                f"teams digest is {size(message)} bytes, over {MESSAGE_MAX_BYTES}",
                code="too_large",
            )
        activity = job.destination.get("message")
        if isinstance(activity, str) and activity:
            await self._api.update(where, activity, message)
            return SendResult(message_ref=activity, chat_id=chat)
        posted = await self._api.send(where, message)
        return SendResult(message_ref=posted, chat_id=chat)

    async def _post(self, job: Job) -> SendResult:
        """A card in a channel or chat (``chat``), or in a member's 1:1 chat (``dm``)."""
        dest = job.destination
        user = dest.get("dm")
        message = self._message(job)
        if user is not None:
            if not self._teams.dm_assignees:
                # The core writes a DM for everyone paged; this gateway asked for none.
                log.debug("delivery %s: teams.dm_assignees is off, DM skipped", job.delivery_id)
                return SendResult()
            person = resolve(_text(user, "dm"))
            seen = KNOWN.get(person.id)
            tenant = self._teams.tenant_id or (seen.tenant_id if seen is not None else None)
            chat_id = await self._api.personal_chat(person.service_url, person.id, tenant)
            where = Address(person.service_url, chat_id)
            chat = str(where)  # carries its service URL: later updates need no lookup
        else:
            chat = _text(dest.get("chat"), "chat")  # as configured: the core matches it
            where = resolve(chat)
        posted = await self._api.send(where, message)
        return SendResult(message_ref=posted, chat_id=chat)

    async def _update(self, job: Job) -> SendResult:
        where = resolve(_text(job.destination.get("chat"), "chat"))
        await self._api.update(
            where, _text(job.destination.get("message"), "message"), self._message(job)
        )
        return SendResult()

    async def _reply(self, job: Job) -> SendResult:
        """One short line in the card's thread (a channel) or under it (a chat)."""
        where = resolve(_text(job.destination.get("chat"), "chat"))
        root = _text(job.destination.get("message"), "message")
        entry = job.payload.get("entry")
        line = reply_line(entry, job.lang) if isinstance(entry, Mapping) else None
        if line:
            thread = Address(where.service_url, thread_of(where.id, root))
            await self._api.reply(thread, root, text_message(line))
        return SendResult()

    def _message(self, job: Job) -> JSONObject:
        """The card message for the job's incident, within the 28 KB a message may take."""
        incident = job.payload.get("incident")
        if not isinstance(incident, dict):
            raise Rejected("teams delivery has no incident card", code="no_incident")
        url = job.payload.get("url")
        buttons = job.payload.get("buttons")
        card, fallback = incident_card(
            incident,
            link=url if isinstance(url, str) else None,
            members=self._settings.members,
            buttons=frozenset(Verb(b) for b in buttons) if isinstance(buttons, list) else None,
        )
        message = card_message(card, fallback)
        if size(message) > MESSAGE_MAX_BYTES:
            # The renderer keeps cards far below this: only a broken card gets here.
            raise Rejected(
                f"teams card is {size(message)} bytes, over {MESSAGE_MAX_BYTES}", code="too_large"
            )
        return message


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"teams destination has no {field}", code=f"no_{field}")
    return value


def reply_line(entry: Mapping[str, Any], lang: str = LANG) -> str | None:
    """The plain line posted under a card for a timeline entry (None: the card says it all)."""
    return event_line(entry, lang, max_chars=REPLY_MAX)
