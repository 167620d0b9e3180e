"""Text commands from the slash command, DMs and @mentions: parse, act or answer, reply."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.acting import LANG, SlackActors
from adapters.slack.commands import Command, CommandError, parse
from cards.build import Viewer, build_card
from cards.lines import list_lines, who_lines
from cards.render.slack import render_message
from gateway import messages, queries
from gateway.domain import Incident, JSONObject, Verb
from gateway.errors import ActionRefused, NotFound
from gateway.links import LinkSigner
from gateway.oncall import OnCall, on_call_now
from gateway.selflink import issue_code, mail_link
from gateway.wire import card_json

log = logging.getLogger(__name__)

LIST_LIMIT = 20
RECENT_EVENTS = 10_000  # event ids remembered; Slack retries within about 5 minutes


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer: text, and Block Kit blocks when the answer is a card."""

    text: str
    blocks: list[JSONObject] | None = None


class Conversation:
    """Answers one line of text from a Slack user."""

    def __init__(self, actors: SlackActors) -> None:
        self.actors = actors
        self.rt = actors.rt
        self.command = actors.settings.command
        server = self.rt.settings.server
        self._signer = LinkSigner(server.secret_key.get_secret_value())
        self._link_ttl = timedelta(hours=server.link_ttl_h)

    async def answer(
        self,
        client: AsyncWebClient,
        text: str,
        *,
        user_id: str,
        team_id: str | None,
        callback_id: str | None,
    ) -> Reply:
        """The reply to ``text``; refusals and mistakes are answered, never raised."""
        try:
            self.actors.check_team(team_id)
            command = parse(text)
            if command.verb is not None and command.incident is not None:
                return await self._act(
                    client, command, command.verb, command.incident, user_id, team_id, callback_id
                )
            return await self._tell(client, command, user_id)
        except CommandError as mistake:
            return Reply(mistake.answer(LANG, self.command))
        except (ActionRefused, NotFound) as refusal:
            return Reply(refusal.message)

    async def _tell(self, client: AsyncWebClient, command: Command, user_id: str) -> Reply:
        if command.name == "show" and command.incident is not None:
            return await self._show(command.incident, user_id)
        if command.name == "list":
            return Reply(list_text(await queries.open_incidents(self.rt, LIST_LIMIT), LANG))
        if command.name == "who":
            incidents = await queries.open_incidents(self.rt, LIST_LIMIT)
            now = on_call_now(self.rt.settings, self.rt.clock.now())
            return Reply(who_text(incidents, LANG, now))
        if command.name == "link":
            return await self._link(client, user_id, command.email)
        return Reply(messages.text("slack_help", LANG, command=self.command))

    async def _act(
        self,
        client: AsyncWebClient,
        command: Command,
        verb: Verb,
        number: int,
        user_id: str,
        team_id: str | None,
        callback_id: str | None,
    ) -> Reply:
        args: dict[str, Any] = {}
        if verb is Verb.COMMENT:
            args["text"] = command.text
        elif verb is Verb.SNOOZE and command.minutes is not None:
            args["minutes"] = command.minutes
        elif verb is Verb.ESCALATE and command.user is not None:
            member = await self.actors.member(client, command.user)
            if member is None:
                return Reply(messages.text("slack_target_not_linked", LANG, user=command.user))
            args["member"] = member
        elif verb is Verb.ESCALATE and command.member is not None:
            args["member"] = command.member

        async def act(what: Verb, what_args: dict[str, Any], key: str | None) -> str:
            outcome = await self.actors.perform(
                client,
                user_id=user_id,
                team_id=team_id,
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

    async def _show(self, number: int, user_id: str) -> Reply:
        incident = await queries.incident(self.rt, number)
        if incident is None:
            return Reply(messages.text("not_found", LANG, number=number))
        member = await self.actors.linked(user_id)
        base = self.rt.settings.server.base_url
        link = (
            self._signer.url(base, member, number, self.rt.clock.now(), self._link_ttl)
            if member
            else f"{base}/incidents/{number}"
        )
        message = render_message(build_card(card_json(incident), Viewer(lang=LANG, link=link)))
        return Reply(str(message["text"]), list(message["blocks"]))

    async def _link(self, client: AsyncWebClient, user_id: str, email: str | None) -> Reply:
        member = await self.actors.linked(user_id)
        if member is not None:
            return Reply(messages.text("slack_link_linked", LANG, member=member))
        member = await self.actors.link(client, user_id)
        if member is not None:
            return Reply(messages.text("slack_link_done", LANG, member=member))
        if email is not None:
            # The same sentence whoever's address it is; only its owner gets a mail.
            workspace = self.actors.workspace
            return Reply(await mail_link(self.rt, "slack", workspace, user_id, email, LANG))
        how = messages.text(
            "slack_link_how", LANG, user=user_id, workspace=self.actors.workspace or ""
        )
        # Every answer to `link` is seen by this user alone (ephemeral, or their DM).
        code = await issue_code(self.rt, "slack", self.actors.workspace, user_id)
        given = messages.text("link_code_given", LANG, code=f"`{code}`")
        return Reply(f"{given}\n\n{how}")


def list_text(incidents: list[Incident], lang: str) -> str:
    """Open incidents, one line each, worded like their cards."""
    return "\n".join(list_lines(incidents, lang, escape=escape))


def who_text(incidents: list[Incident], lang: str, on_call: Sequence[OnCall] = ()) -> str:
    """Who is on call now (schedules, each service's first level), then who holds what."""
    return "\n".join(who_lines(incidents, lang, on_call, escape=escape))


def escape(text: str) -> str:
    """Text from alerts shown in mrkdwn: it must not ping ``<!channel>`` or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
