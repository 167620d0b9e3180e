"""Text commands from DMs to the bot and @mentions in groups: parse, act or answer, reply."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from adapters.lark.acting import LANG, LarkActors
from cards.build import Viewer, build_card
from cards.lines import list_lines, who_lines
from cards.render.lark import render_card
from gateway import commands, messages, queries
from gateway.commands import Command, CommandError
from gateway.domain import Incident, JSONObject, Verb
from gateway.errors import ActionRefused, NotFound
from gateway.links import LinkSigner
from gateway.oncall import OnCall, on_call_now
from gateway.selflink import issue_code, mail_link
from gateway.wire import card_json

log = logging.getLogger(__name__)

LIST_LIMIT = 20
# Feishu writes each @mention in a message's text as a key (``@_user_1``) that ``mentions``
# explains; ackgate rewrites the people named after the command to ``<at:open_id>``.
_KEY = re.compile(r"@_user_\d+")
_LEADING_KEY = re.compile(r"^\s*@_user_\d+[\s:,，：]*")
_USER = re.compile(r"<at:(?P<id>[A-Za-z0-9_-]+)>")


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: text, or a card when the answer is one."""

    text: str
    card: JSONObject | None = None


def command_text(text: str, mentions: Sequence[Mapping[str, Any]], *, group: bool) -> str | None:
    """The command in a message's text, its mention keys resolved; None: not for the bot.

    In a group the bot hears only what starts with an @mention (of the bot: Feishu delivers
    group messages to an app only when they mention it, unless it may read them all).
    """
    ids = {
        str(m.get("key")): str((m.get("id") or {}).get("open_id") or "")
        for m in mentions
        if isinstance(m, Mapping)
    }
    stripped = _LEADING_KEY.sub("", text, count=1)
    if group and stripped == text:
        return None

    def resolve(match: re.Match[str]) -> str:
        open_id = ids.get(match.group(0))
        return f"<at:{open_id}>" if open_id else match.group(0)

    return _KEY.sub(resolve, stripped)


def mention_names(mentions: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """open_id → the name a message's mention showed."""
    return {
        str((m.get("id") or {}).get("open_id")): str(m.get("name") or "")
        for m in mentions
        if isinstance(m, Mapping) and (m.get("id") or {}).get("open_id")
    }


class Conversation:
    """Answers one line of text from a Feishu/Lark user."""

    def __init__(self, actors: LarkActors) -> None:
        self.actors = actors
        self.rt = actors.rt
        server = self.rt.settings.server
        self._signer = LinkSigner(server.secret_key.get_secret_value())
        self._link_ttl = timedelta(hours=server.link_ttl_h)

    async def answer(
        self,
        text: str,
        *,
        open_id: str,
        callback_id: str | None,
        names: Mapping[str, str] | None = None,
        private: bool = False,
    ) -> Reply:
        """The reply to ``text``; refusals and mistakes are answered, never raised."""
        try:
            command = commands.parse(text, user_mention=_USER)
            if command.verb is not None and command.incident is not None:
                return await self._act(
                    command, command.verb, command.incident, open_id, callback_id, names or {}
                )
            return await self._tell(command, open_id, private=private)
        except CommandError as mistake:
            problem = messages.text(mistake.key, LANG, **mistake.values)
            if mistake.usage is None:
                return Reply(f"{problem}\n{self.help()}")
            return Reply(f"{problem}\n{messages.text('lark_usage', LANG, usage=mistake.usage)}")
        except (ActionRefused, NotFound) as refusal:
            return Reply(refusal.message)

    def help(self) -> str:
        """The list of commands."""
        return messages.text("lark_help", LANG, platform=self.actors.platform_name)

    async def _tell(self, command: Command, open_id: str, *, private: bool = False) -> Reply:
        if command.name == "show" and command.incident is not None:
            return await self._show(command.incident, open_id)
        if command.name == "list":
            return Reply(list_text(await queries.open_incidents(self.rt, LIST_LIMIT), LANG))
        if command.name == "who":
            incidents = await queries.open_incidents(self.rt, LIST_LIMIT)
            now = on_call_now(self.rt.settings, self.rt.clock.now())
            return Reply(who_text(incidents, LANG, now))
        if command.name == "link":
            return await self._link(open_id, command.email, private=private)
        return Reply(self.help())

    async def _act(
        self,
        command: Command,
        verb: Verb,
        number: int,
        open_id: str,
        callback_id: str | None,
        names: Mapping[str, str],
    ) -> Reply:
        args: dict[str, Any] = {}
        if verb is Verb.COMMENT:
            args["text"] = command.text
        elif verb is Verb.SNOOZE and command.minutes is not None:
            args["minutes"] = command.minutes
        elif verb is Verb.ESCALATE and command.user is not None:
            member = await self.actors.member(command.user)
            if member is None:
                name = names.get(command.user) or command.user
                return Reply(messages.text("lark_target_not_linked", LANG, name=name))
            args["member"] = member
        elif verb is Verb.ESCALATE and command.member is not None:
            args["member"] = command.member

        async def act(what: Verb, what_args: dict[str, Any], key: str | None) -> str:
            outcome = await self.actors.perform(
                open_id=open_id, incident=number, verb=what, args=what_args, callback_id=key
            )
            return outcome.message

        if verb is Verb.CLOSE and command.text:
            # The note goes first, so the close is the incident's last word (and card update).
            await act(Verb.COMMENT, {"text": command.text}, callback_id and f"{callback_id}:note")
        return Reply(await act(verb, args, callback_id))

    async def _show(self, number: int, open_id: str) -> Reply:
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return Reply(messages.text("not_found", LANG, number=number))
        member = await self.actors.linked(open_id)
        base = self.rt.settings.server.base_url
        link = (
            self._signer.url(base, member, number, self.rt.clock.now(), self._link_ttl)
            if member
            else f"{base}/incidents/{number}"
        )
        card = build_card(card_json(incident), Viewer(lang=LANG, link=link))
        return Reply(card.fallback, render_card(card, LANG))

    async def _link(self, open_id: str, email: str | None, *, private: bool) -> Reply:
        platform = self.actors.platform_name
        member = await self.actors.linked(open_id)
        if member is not None:
            return Reply(messages.text("lark_link_linked", LANG, platform=platform, member=member))
        member = await self.actors.link(open_id)
        if member is not None:
            return Reply(messages.text("lark_link_done", LANG, platform=platform, member=member))
        if email is not None:
            # The same sentence whoever's address it is; only its owner gets a mail.
            return Reply(await mail_link(self.rt, "lark", "", open_id, email, LANG))
        how = messages.text("lark_link_how", LANG, platform=platform, user=open_id)
        if not private:
            return Reply(how)  # a code said in a group could be used by anyone who reads it
        code = await issue_code(self.rt, "lark", "", open_id)
        return Reply(f"{messages.text('link_code_given', LANG, code=code)}\n\n{how}")


def list_text(incidents: list[Incident], lang: str) -> str:
    """Open incidents, one line each, worded like their cards."""
    return "\n".join(list_lines(incidents, lang))


def who_text(incidents: list[Incident], lang: str, on_call: Sequence[OnCall] = ()) -> str:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    return "\n".join(who_lines(incidents, lang, on_call))
