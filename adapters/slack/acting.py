"""Slack accounts acting on incidents: the workspace check, identity links, email auto-linking."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.errors import call
from gateway import messages
from gateway.actions import perform
from gateway.config import SlackSettings
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused, PlatformError
from gateway.identity import link_by_email, member_for
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PLATFORM = "slack"
LANG = "en"


class SlackActors:
    """Turns a Slack user into a member (linking by email when needed) and acts as them."""

    def __init__(self, rt: Runtime, settings: SlackSettings) -> None:
        self.rt = rt
        self.settings = settings

    @property
    def workspace(self) -> str:
        """The team id identities are linked under ("" = any workspace)."""
        return self.settings.workspace

    def check_team(self, team_id: str | None) -> None:
        """Refuse requests from another workspace than the configured one."""
        if self.workspace and team_id != self.workspace:
            raise ActionRefused(messages.text("slack_wrong_workspace", LANG), "wrong_workspace")

    async def linked(self, user_id: str) -> str | None:
        """The member this Slack user is linked to, without asking Slack."""
        return await member_for(self.rt, PLATFORM, self.workspace, user_id)

    async def member(self, client: AsyncWebClient, user_id: str) -> str | None:
        """The member this Slack user is, linking the account by email on first use."""
        return await self.linked(user_id) or await self.link(client, user_id)

    async def require_member(
        self, client: AsyncWebClient, user_id: str, team_id: str | None
    ) -> str:
        """The member acting from ``team_id``; raises ActionRefused when there is none."""
        self.check_team(team_id)
        member = await self.member(client, user_id)
        if member is None:
            raise ActionRefused(not_linked(), "unknown_user")
        return member

    async def link(self, client: AsyncWebClient, user_id: str) -> str | None:
        """Link the account to the member with its Slack email (``users.info``), if exactly one."""
        try:
            answer = await call(client.users_info(user=user_id))
        except PlatformError as exc:
            log.warning("slack users.info for %s failed, not linked: %s", user_id, exc)
            return None
        user: Mapping[str, Any] = answer.get("user") or {}
        # Only a real person whose address Slack has confirmed may claim a member by email.
        if user.get("deleted") or user.get("is_bot") or user.get("is_email_confirmed") is False:
            return None
        email = (user.get("profile") or {}).get("email")
        return await link_by_email(
            self.rt, PLATFORM, self.workspace, user_id, email if isinstance(email, str) else None
        )

    async def perform(
        self,
        client: AsyncWebClient,
        *,
        user_id: str,
        team_id: str | None,
        incident: int,
        verb: Verb,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
    ) -> Outcome:
        """``gateway.actions.perform`` as this Slack user; raises ActionRefused and NotFound.

        An account nobody linked yet is linked by email once and the action tried again.
        """
        self.check_team(team_id)
        req = ActionRequest(
            incident=incident,
            verb=verb,
            source=PLATFORM,
            args=dict(args or {}),
            platform=PLATFORM,
            workspace=self.workspace,
            platform_user_id=user_id,
            callback_id=callback_id,
        )
        try:
            return await perform(self.rt, req)  # in the member's language
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
        if await self.link(client, user_id) is None:
            raise ActionRefused(not_linked(), "unknown_user")
        return await perform(self.rt, req)  # in the member's language


def not_linked() -> str:
    """What an unlinked Slack user is told."""
    return messages.text("unknown_user", LANG, platform="Slack")
