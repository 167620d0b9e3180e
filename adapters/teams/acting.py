"""Teams accounts acting on incidents: which member an account is, and acting as them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adapters.teams.activity import Sender
from adapters.teams.addresses import SEPARATOR
from gateway import messages
from gateway.actions import perform
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused
from gateway.identity import member_for
from gateway.runtime import Runtime

PLATFORM = "teams"
LANG = "en"
# Entra object ids are unique across tenants and ``29:`` ids are unique per bot: identities
# are linked under "", the way config identities and ``ackgate mapping import`` write them.
WORKSPACE = ""


def not_linked(account: str, lang: str = LANG) -> str:
    """What an unlinked Teams user is told (one line: it fits a card action's answer)."""
    return messages.text("teams_not_linked", lang, user=account)


def accounts(ids: Sequence[str | None], service_url: str) -> list[str]:
    """The identity ``user_id``s that name a Teams user, most usual first.

    An identity names a user by object id or ``29:`` id, bare or after the service URL
    (``"<serviceUrl>|<id>"``, which also tells the sender where their 1:1 chat is).
    """
    bare = [i for i in dict.fromkeys(ids) if i]
    return [*bare, *(f"{service_url}{SEPARATOR}{i}" for i in bare)]


class TeamsActors:
    """Turns a Teams user into a member and acts as them.

    Nothing is linked by itself yet: an account is linked by an admin (config identities or
    ``ackgate mapping import``) before it can act.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def account(self, ids: Sequence[str | None], service_url: str) -> tuple[str, str | None]:
        """The identity ``user_id`` these ids are linked by and its member, if any; unlinked,
        the id to link (the first)."""
        names = accounts(ids, service_url)
        if not names:
            return "", None
        for name in names:
            member = await member_for(self.rt, PLATFORM, WORKSPACE, name)
            if member is not None:
                return name, member
        return names[0], None

    async def linked(self, user: Sender, service_url: str) -> str | None:
        """The member this Teams user is linked to, if any."""
        _name, member = await self.account((user.aad_object_id, user.id), service_url)
        return member

    async def require_member(self, user: Sender, service_url: str, lang: str = LANG) -> str:
        """The member this Teams user is; raises ActionRefused when there is none."""
        member = await self.linked(user, service_url)
        if member is None:
            raise ActionRefused(not_linked(user.account, lang), "unknown_user")
        return member

    async def perform(
        self,
        *,
        user: Sender,
        service_url: str,
        incident: int,
        verb: Verb,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
        lang: str = LANG,
    ) -> Outcome:
        """``gateway.actions.perform`` as this Teams user; raises ActionRefused and NotFound."""
        name, member = await self.account((user.aad_object_id, user.id), service_url)
        if member is None:
            raise ActionRefused(not_linked(user.account, lang), "unknown_user")
        req = ActionRequest(
            incident=incident,
            verb=verb,
            source=PLATFORM,
            args=dict(args or {}),
            platform=PLATFORM,
            workspace=WORKSPACE,
            platform_user_id=name,
            callback_id=callback_id,
        )
        try:
            return await perform(self.rt, req, lang)
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
            # The core's sentence points at a self-service link Teams does not have yet.
            raise ActionRefused(not_linked(user.account, lang), refusal.code) from None
