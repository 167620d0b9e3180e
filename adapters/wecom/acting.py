"""WeCom members acting on incidents: identity links (by UserID, found by mobile or email on
first use), and acting as them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from adapters.directory import link_found
from adapters.wecom.directory import WecomDirectory
from gateway import messages
from gateway.actions import perform
from gateway.config import WecomSettings
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused
from gateway.identity import member_for
from gateway.links import LinkSigner
from gateway.runtime import Runtime

PLATFORM = "wecom"
LANG = "en"
# A UserID is unique within the one corp the app belongs to: identities are written with
# no workspace (config identities, ``ackgate mapping import``) or with the corp id.
NO_WORKSPACE = ""


class WecomActors:
    """Turns a WeCom UserID into a member and acts as them.

    WeCom tells a UserID only. An account is linked by an admin (config identities or
    ``ackgate mapping import``), by the person (``link``), or here on first use: when WeCom
    maps exactly one member's mobile or email to the UserID (``directory``), the account is
    linked to that member.
    """

    def __init__(
        self, rt: Runtime, settings: WecomSettings, directory: WecomDirectory | None = None
    ) -> None:
        self.rt = rt
        self.settings = settings
        self.directory = directory
        server = rt.settings.server
        self._signer = LinkSigner(server.secret_key.get_secret_value())
        self._link_ttl = timedelta(hours=server.link_ttl_h)

    async def linked(self, user_id: str) -> tuple[str, str] | None:
        """``(member, workspace)`` this UserID is linked as, if it is."""
        for workspace in (self.settings.corp_id, NO_WORKSPACE):
            member = await member_for(self.rt, PLATFORM, workspace, user_id)
            if member is not None:
                return member, workspace
        return None

    async def member(self, user_id: str) -> tuple[str, str] | None:
        """``(member, workspace)`` this UserID is, linking it by mobile or email on first use."""
        found = await self.linked(user_id)
        if found is not None or self.directory is None:
            return found
        match = await self.directory.find(user_id)
        if match is None:
            return None
        member = await link_found(self.rt, PLATFORM, NO_WORKSPACE, user_id, *match)
        return (member, NO_WORKSPACE) if member is not None else None

    async def require_member(self, user_id: str) -> str:
        """The member this UserID is; raises ActionRefused when there is none."""
        found = await self.member(user_id)
        if found is None:
            raise ActionRefused(not_linked(user_id), "unknown_user")
        return found[0]

    async def perform(
        self,
        *,
        user_id: str,
        incident: int,
        verb: Verb,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
    ) -> Outcome:
        """``gateway.actions.perform`` as this UserID; raises ActionRefused and NotFound."""
        found = await self.member(user_id)
        req = ActionRequest(
            incident=incident,
            verb=verb,
            source=PLATFORM,
            args=dict(args or {}),
            platform=PLATFORM,
            workspace=found[1] if found else self.settings.corp_id,
            platform_user_id=user_id,
            callback_id=callback_id,
        )
        try:
            return await perform(self.rt, req)  # in the member's language
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
            # The core's sentence points at a self-service link WeCom does not have.
            raise ActionRefused(not_linked(user_id), refusal.code) from None

    def link(self, member: str, incident: int) -> str:
        """``member``'s signed link to ``incident``'s page, as their DM'd card has it."""
        server = self.rt.settings.server
        now = self.rt.clock.now()
        return self._signer.url(server.base_url, member, incident, now, self._link_ttl)


def not_linked(user_id: str, lang: str = LANG) -> str:
    """What an unlinked WeCom user is told: how an admin links them."""
    return messages.text("wecom_link_how", lang, user=user_id)
