"""Text commands in a 1:1 chat with the bot or after @mentioning it: parse, act or answer."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from adapters.teams.acting import LANG, PLATFORM, WORKSPACE, TeamsActors, roster
from adapters.teams.activity import Incoming, Sender
from adapters.teams.addresses import Address, conversation_root
from adapters.teams.connector import ConnectorApi
from adapters.teams.views import incident_card
from cards.lines import list_lines, who_lines
from gateway import commands, messages, queries
from gateway.commands import Command, CommandError
from gateway.domain import Incident, JSONObject, Verb
from gateway.errors import ActionRefused, NotFound, PlatformError
from gateway.links import LinkSigner
from gateway.oncall import OnCall, on_call_now
from gateway.selflink import issue_code, mail_link
from gateway.wire import card_json

log = logging.getLogger(__name__)

LIST_LIMIT = 20
# Questions anyone may ask; everything else needs a linked account.
OPEN_COMMANDS = frozenset({"help", "link"})
# Other people @mentioned after the command are rewritten to ``<at:ID>`` for the parser.
_USER = re.compile(r"<at:(?P<id>[^<>\s]+)>")
_LEFTOVER_AT = re.compile(r"<at>.*?</at>", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: a line of text, or a card (with its text for notifications)."""

    text: str
    card: JSONObject | None = None


def command_text(activity: Incoming) -> str:
    """The command in a message: the bot's @mention removed, other people's as ``<at:ID>``."""
    text = activity.text
    for mention in activity.mentions:
        named = "" if mention.id == activity.recipient_id else f" <at:{mention.id}> "
        text = text.replace(mention.text, named)
    text = _LEFTOVER_AT.sub(" ", text)
    return html.unescape(text).replace("\xa0", " ").strip()


class Conversation:
    """Answers one message from a Teams user."""

    def __init__(self, actors: TeamsActors, api: ConnectorApi) -> None:
        self.actors = actors
        self.api = api
        self.rt = actors.rt
        server = self.rt.settings.server
        self._signer = LinkSigner(server.secret_key.get_secret_value())
        self._link_ttl = timedelta(hours=server.link_ttl_h)

    async def answer(self, activity: Incoming, user: Sender) -> Reply:
        """The reply to the message; refusals and mistakes are answered, never raised."""
        try:
            command = commands.parse(command_text(activity), user_mention=_USER)
            if command.name == "link":
                return await self._link(activity, user, command.email)
            if command.name in OPEN_COMMANDS:
                return Reply(self.help(activity))
            member = await self.actors.require_member(user, activity)
            if command.verb is not None and command.incident is not None:
                return await self._act(activity, user, command, command.verb, command.incident)
            return await self._tell(activity, command, member)
        except CommandError as mistake:
            problem = messages.text(mistake.key, LANG, **mistake.values)
            if mistake.usage is None:
                return Reply(f"{problem}\n{self.help(activity)}")
            return Reply(f"{problem}\n{messages.text('teams_usage', LANG, usage=mistake.usage)}")
        except (ActionRefused, NotFound) as refusal:
            return Reply(refusal.message)

    def help(self, activity: Incoming) -> str:
        """The list of commands; in a channel or group chat, also this chat's id to configure."""
        text = messages.text("teams_help", LANG)
        if activity.personal:
            return text
        return f"{text}\n\n{messages.text('teams_chat_id', LANG, chat=activity.chat)}"

    async def _tell(self, activity: Incoming, command: Command, member: str) -> Reply:
        if command.name == "show" and command.incident is not None:
            # A link signed for the member acts as them: only in their 1:1 chat.
            return await self._show(command.incident, member if activity.personal else None)
        incidents = await queries.open_incidents(self.rt, LIST_LIMIT)
        if command.name == "list":
            return Reply(list_text(incidents, LANG))
        now = on_call_now(self.rt.settings, self.rt.clock.now())
        return Reply(who_text(incidents, LANG, now))  # "who": the only question left

    async def _act(
        self, activity: Incoming, user: Sender, command: Command, verb: Verb, number: int
    ) -> Reply:
        args: dict[str, Any] = {}
        if verb is Verb.COMMENT:
            args["text"] = command.text
        elif verb is Verb.SNOOZE and command.minutes is not None:
            args["minutes"] = command.minutes
        elif verb is Verb.ESCALATE and command.user is not None:
            target = await self._mentioned(activity, command.user)
            if target is None:
                named = next((m.name for m in activity.mentions if m.id == command.user), "")
                return Reply(
                    messages.text("teams_target_not_linked", LANG, name=named or command.user)
                )
            args["member"] = target
        elif verb is Verb.ESCALATE and command.member is not None:
            args["member"] = command.member
        callback_id = activity.id or None

        async def act(what: Verb, what_args: dict[str, Any], key: str | None) -> str:
            outcome = await self.actors.perform(
                user=user,
                activity=activity,
                incident=number,
                verb=what,
                args=what_args,
                callback_id=key,
            )
            return outcome.message

        if verb is Verb.CLOSE and command.text:
            # The note goes first, so the close is the incident's last word (and card update).
            await act(Verb.COMMENT, {"text": command.text}, callback_id and f"{callback_id}:note")
        return Reply(await act(verb, args, callback_id))

    async def _mentioned(self, activity: Incoming, user_id: str) -> str | None:
        """The member a mentioned person is: by the ``29:`` id the mention names, else by
        their Entra object id from the chat's roster (identities usually name that one)."""
        _name, member = await self.actors.account((user_id,), activity.service_url)
        if member is not None:
            return member
        roster = Address(activity.service_url, conversation_root(activity.conversation_id))
        try:
            profile = await self.api.member(roster, user_id)
        except PlatformError as exc:
            log.warning("teams roster lookup of %s failed: %s", user_id, exc)
            return None
        object_id = profile.get("aadObjectId")
        if not isinstance(object_id, str) or not object_id:
            return None
        _name, member = await self.actors.account((object_id,), activity.service_url)
        return member

    async def _show(self, number: int, member: str | None) -> Reply:
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return Reply(messages.text("not_found", LANG, number=number))
        base = self.rt.settings.server.base_url
        link = (
            self._signer.url(base, member, number, self.rt.clock.now(), self._link_ttl)
            if member is not None
            else f"{base}/incidents/{number}"
        )
        card, fallback = incident_card(
            card_json(incident), link=link, members=self.rt.settings.members
        )
        return Reply(fallback, card)

    async def _link(self, activity: Incoming, user: Sender, email: str | None) -> Reply:
        member = await self.actors.linked(user, activity.service_url)
        if member is not None:
            return Reply(messages.text("teams_link_linked", LANG, member=member))
        member = await self.actors.link_by_roster(user, roster(activity))
        if member is not None:
            return Reply(messages.text("teams_link_done", LANG, member=member))
        if email is not None:
            # The same sentence whoever's address it is; only its owner gets a mail.
            return Reply(await mail_link(self.rt, PLATFORM, WORKSPACE, user.account, email, LANG))
        how = messages.text("teams_link_how", LANG, user=user.account)
        if self.rt.settings.email is not None:
            how = f"{how}\n\n{messages.text('link_email_hint', LANG)}"
        if not activity.personal:
            return Reply(how)  # a code said in a channel could be used by anyone who reads it
        code = await issue_code(self.rt, PLATFORM, WORKSPACE, user.account)
        return Reply(f"{messages.text('link_code_given', LANG, code=code)}\n\n{how}")


def list_text(incidents: Sequence[Incident], lang: str) -> str:
    """Open incidents, one line each, worded like their cards."""
    return "\n".join(list_lines(incidents, lang))


def who_text(incidents: Sequence[Incident], lang: str, on_call: Sequence[OnCall] = ()) -> str:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    return "\n".join(who_lines(incidents, lang, on_call))
