"""Text commands (the slash command's text, or a direct message to the bot): parse, act or
answer, as a chatbot message's ``content``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from adapters.zoom.acting import LANG, PLATFORM, WORKSPACE, ZoomActors, not_linked
from adapters.zoom.views import card_content
from cards.build import Viewer
from cards.lines import list_lines, who_lines
from cards.model import ELLIPSIS, clip
from cards.render.zoom import TEXT_MAX
from gateway import messages, queries
from gateway.commands import Command, CommandError, parse
from gateway.domain import Incident, JSONObject, Verb
from gateway.errors import ActionRefused, NotFound
from gateway.links import LinkSigner
from gateway.oncall import OnCall, on_call_now
from gateway.selflink import issue_code, mail_link
from gateway.wire import card_json

LIST_LIMIT = 20


def text_content(text: str) -> JSONObject:
    """A plain chatbot message saying ``text`` (cut to fit)."""
    return {"body": [{"type": "message", "text": clip(text, TEXT_MAX)}]}


class Conversation:
    """Answers one line of text from a Zoom user."""

    def __init__(self, actors: ZoomActors) -> None:
        self.actors = actors
        self.rt = actors.rt
        server = self.rt.settings.server
        self._signer = LinkSigner(server.secret_key.get_secret_value())
        self._link_ttl = timedelta(hours=server.link_ttl_h)

    async def answer(
        self, text: str, *, user_jid: str, callback_id: str | None, private: bool = False
    ) -> JSONObject:
        """The reply to ``text``; refusals and mistakes are answered, never raised."""
        try:
            command = parse(text)
            if command.verb is not None and command.incident is not None:
                said = await self._act(
                    command, command.verb, command.incident, user_jid, callback_id
                )
                return text_content(said)
            return await self._tell(command, user_jid, private=private)
        except CommandError as mistake:
            return text_content(mistake_text(mistake, LANG))
        except (ActionRefused, NotFound) as refusal:
            return text_content(refusal.message)

    async def _tell(self, command: Command, user_jid: str, *, private: bool = False) -> JSONObject:
        if command.name == "show" and command.incident is not None:
            return await self._show(command.incident, user_jid)
        if command.name == "list":
            return text_content(list_text(await queries.open_incidents(self.rt, LIST_LIMIT), LANG))
        if command.name == "who":
            incidents = await queries.open_incidents(self.rt, LIST_LIMIT)
            now = on_call_now(self.rt.settings, self.rt.clock.now())
            return text_content(who_text(incidents, LANG, now))
        if command.name == "link":
            return text_content(await self._link(command, user_jid, private=private))
        return text_content(messages.text("zoom_help", LANG))

    async def _link(self, command: Command, user_jid: str, *, private: bool) -> str:
        member = await self.actors.linked(user_jid)
        if member is not None:
            return messages.text("zoom_link_linked", LANG, member=member)
        if command.email is not None:
            # The same sentence whoever's address it is; only its owner gets a mail.
            return await mail_link(self.rt, PLATFORM, WORKSPACE, user_jid, command.email, LANG)
        how = not_linked(user_jid, LANG)
        if self.rt.settings.email is not None:
            how = f"{how}\n\n{messages.text('link_email_hint', LANG)}"
        if not private:
            return how  # a code said in a channel could be used by anyone who reads it
        code = await issue_code(self.rt, PLATFORM, WORKSPACE, user_jid)
        return f"{messages.text('link_code_given', LANG, code=code)}\n\n{how}"

    async def _act(
        self,
        command: Command,
        verb: Verb,
        number: int,
        user_jid: str,
        callback_id: str | None,
    ) -> str:
        args: dict[str, Any] = {}
        if verb is Verb.COMMENT:
            args["text"] = command.text
        elif verb is Verb.SNOOZE and command.minutes is not None:
            args["minutes"] = command.minutes
        elif verb is Verb.ESCALATE and command.member is not None:
            args["member"] = command.member

        async def act(what: Verb, what_args: dict[str, Any], key: str | None) -> str:
            outcome = await self.actors.perform(
                user_jid=user_jid, incident=number, verb=what, args=what_args, callback_id=key
            )
            return outcome.message

        if verb is Verb.CLOSE and command.text:
            # The note goes first, so the close is the incident's last word (and card update).
            await act(Verb.COMMENT, {"text": command.text}, callback_id and f"{callback_id}:note")
        return await act(verb, args, callback_id)

    async def _show(self, number: int, user_jid: str) -> JSONObject:
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return text_content(messages.text("not_found", LANG, number=number))
        member = await self.actors.linked(user_jid)
        base = self.rt.settings.server.base_url
        link = (
            self._signer.url(base, member, number, self.rt.clock.now(), self._link_ttl)
            if member
            else f"{base}/incidents/{number}"
        )
        viewer = Viewer(lang=LANG, link=link)
        return card_content(card_json(incident), viewer, self.rt.settings.members)


def mistake_text(mistake: CommandError, lang: str) -> str:
    """What was wrong with a command, then how to write it (or the whole help)."""
    problem = messages.text(mistake.key, lang, **mistake.values)
    if mistake.usage is None:
        return f"{problem}\n{messages.text('zoom_help', lang)}"
    return f"{problem}\n{messages.text('zoom_usage', lang, usage=mistake.usage)}"


def list_text(incidents: list[Incident], lang: str) -> str:
    """Open incidents, one line each, worded like their cards."""
    return fit_lines(list_lines(incidents, lang))


def who_text(incidents: list[Incident], lang: str, on_call: Sequence[OnCall] = ()) -> str:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    return fit_lines(who_lines(incidents, lang, on_call))


def fit_lines(lines: Sequence[str]) -> str:
    """As many whole ``lines`` as fit one message, then "…"."""
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = len(line) + (1 if kept else 0)
        if used + cost > TEXT_MAX - len(ELLIPSIS) - 1:
            kept.append(ELLIPSIS)
            break
        kept.append(line)
        used += cost
    return "\n".join(kept)
