"""DingTalk accounts acting on incidents: identity links, linking by mobile or email on
first use, acting as them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from adapters.dingtalk.api import DingtalkApi
from adapters.dingtalk.directory import DingtalkDirectory
from adapters.directory import link_found
from gateway import messages
from gateway.actions import perform
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused
from gateway.identity import member_for
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
LANG = "en"
# An internal app belongs to one organization, where a staff id names one person: accounts
# are linked under "", the way config identities and ``ackgate mapping import`` write them.
WORKSPACE = ""


def not_linked(staff_id: str) -> str:
    """What an unlinked DingTalk user is told when they try to act."""
    return messages.text("dingtalk_not_linked", LANG, user=staff_id)


class DingtalkActors:
    """Turns a DingTalk user (staff id) into a member and acts as them.

    An account is linked by an admin (config identities or ``ackgate mapping import``), by
    the person (``link``), or here on first use: when DingTalk's directory shows the person's
    mobile or email to be exactly one member's (``directory``), the account is linked to them.
    """

    def __init__(self, rt: Runtime, api: DingtalkApi) -> None:
        self.rt = rt
        self.api = api
        self.directory = DingtalkDirectory(rt, api)

    async def linked(self, staff_id: str) -> str | None:
        """The member this account is linked to, without asking DingTalk."""
        return await member_for(self.rt, PLATFORM, WORKSPACE, staff_id)

    async def member(self, staff_id: str) -> str | None:
        """The member this account is, linking it by mobile or email on first use."""
        return await self.linked(staff_id) or await self.link(staff_id)

    async def link(self, staff_id: str) -> str | None:
        """Link the account to the one member DingTalk's directory says it is, if any."""
        found = await self.directory.find(staff_id)
        if found is None:
            return None
        member = await link_found(self.rt, PLATFORM, WORKSPACE, staff_id, *found)
        if member is None:
            self.directory.misses.put(staff_id, None)
        return member

    async def perform(
        self,
        *,
        staff_id: str,
        incident: int,
        verb: Verb,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
    ) -> Outcome:
        """``gateway.actions.perform`` as this account; raises ActionRefused and NotFound.

        An account nobody linked yet is linked by mobile or email once and the action tried
        again.
        """
        req = ActionRequest(
            incident=incident,
            verb=verb,
            source=PLATFORM,
            args=dict(args or {}),
            platform=PLATFORM,
            workspace=WORKSPACE,
            platform_user_id=staff_id,
            callback_id=callback_id,
        )
        try:
            return await perform(self.rt, req)  # in the member's language
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
        if await self.link(staff_id) is None:
            raise ActionRefused(not_linked(staff_id), "unknown_user")
        return await perform(self.rt, req)  # in the member's language
