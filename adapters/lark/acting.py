"""Feishu/Lark accounts acting on incidents: identity links, email auto-linking, acting as them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from adapters.directory import Answers
from adapters.lark.api import LarkApi
from gateway import messages
from gateway.actions import perform
from gateway.config import LarkSettings
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused, PlatformError
from gateway.identity import link_by_email, member_for
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PLATFORM = "lark"
LANG = "en"
# open_id is already unique per app (and so per tenant): identities are linked under "",
# the way config identities and ``ackgate mapping import`` write them.
WORKSPACE = ""
# An account that matched no member is not looked up again for a while: a stranger's
# clicks must not become one batch_get_id call each.
MISS_TTL = timedelta(minutes=10)
MISSES_MAX = 1000
PLATFORM_NAMES = {"feishu": "Feishu", "lark": "Lark"}


class LarkActors:
    """Turns a Feishu/Lark user (``open_id``) into a member and acts as them."""

    def __init__(self, rt: Runtime, settings: LarkSettings, api: LarkApi) -> None:
        self.rt = rt
        self.settings = settings
        self.api = api
        self._misses: Answers[str, str] = Answers(
            rt.clock.now, hit_ttl=MISS_TTL, miss_ttl=MISS_TTL, size=MISSES_MAX
        )

    @property
    def platform_name(self) -> str:
        """What people call the platform: Feishu or Lark."""
        return PLATFORM_NAMES[self.settings.region]

    async def linked(self, open_id: str) -> str | None:
        """The member this account is linked to, without asking Feishu."""
        return await member_for(self.rt, PLATFORM, WORKSPACE, open_id)

    async def member(self, open_id: str) -> str | None:
        """The member this account is, linking it by email on first use."""
        return await self.linked(open_id) or await self.link(open_id)

    async def link(self, open_id: str) -> str | None:
        """Link the account to the member whose email Feishu maps to this open_id, if one.

        Feishu answers email → open_id (``batch_get_id``), so the configured members' emails
        are looked up and the one that comes back as ``open_id`` is linked.
        """
        if self._misses.get(open_id) is not None:
            return None
        emails = [m.email for m in self.rt.settings.members.values() if m.email]
        try:
            found = await self.api.open_ids_by_email(emails)
        except PlatformError as exc:
            log.warning("lark batch_get_id for %s failed, not linked: %s", open_id, exc)
            return None
        matches = sorted(email for email, who in found.items() if who == open_id)
        member = (
            await link_by_email(self.rt, PLATFORM, WORKSPACE, open_id, matches[0])
            if len(matches) == 1
            else None
        )
        if member is None:
            self._misses.put(open_id, None)
        return member

    async def perform(
        self,
        *,
        open_id: str,
        incident: int,
        verb: Verb,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
    ) -> Outcome:
        """``gateway.actions.perform`` as this account; raises ActionRefused and NotFound.

        An account nobody linked yet is linked by email once and the action tried again.
        """
        req = ActionRequest(
            incident=incident,
            verb=verb,
            source=PLATFORM,
            args=dict(args or {}),
            platform=PLATFORM,
            workspace=WORKSPACE,
            platform_user_id=open_id,
            callback_id=callback_id,
        )
        try:
            return await perform(self.rt, req)  # in the member's language
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
        if await self.link(open_id) is None:
            raise ActionRefused(self.not_linked(), "unknown_user")
        return await perform(self.rt, req)  # in the member's language

    def not_linked(self) -> str:
        """What an unlinked account is told."""
        return messages.text("unknown_user", LANG, platform=self.platform_name)
