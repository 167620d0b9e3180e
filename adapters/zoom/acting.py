"""Zoom accounts acting on incidents: identity links, and acting as the member linked."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway import messages
from gateway.actions import perform
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused
from gateway.identity import member_for
from gateway.runtime import Runtime

PLATFORM = "zoom"
# A user JID is unique across Zoom, and events from accounts other than zoom.account_id are
# turned away before they get here: identities are linked under "", the way config
# identities and ``ackgate mapping import`` write them.
WORKSPACE = ""
LANG = "en"


def not_linked(user_jid: str, lang: str = LANG) -> str:
    """What an unlinked Zoom user is told: how an admin links the account."""
    return messages.text("zoom_not_linked", lang, user=user_jid)


class ZoomActors:
    """Turns a Zoom user (their JID) into a member and acts as them.

    The chatbot token cannot read people's emails (that needs another app with user-read
    scope): an account is linked by an admin before it can act.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def linked(self, user_jid: str) -> str | None:
        """The member this Zoom user is linked to, if any."""
        return await member_for(self.rt, PLATFORM, WORKSPACE, user_jid)

    async def perform(
        self,
        *,
        user_jid: str,
        incident: int,
        verb: Verb,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
        lang: str | None = None,
    ) -> Outcome:
        """``gateway.actions.perform`` as this Zoom user (answered in ``lang``, by default
        their member's language); raises ActionRefused, NotFound."""
        req = ActionRequest(
            incident=incident,
            verb=verb,
            source=PLATFORM,
            args=dict(args or {}),
            platform=PLATFORM,
            workspace=WORKSPACE,
            platform_user_id=user_jid,
            callback_id=callback_id,
        )
        try:
            return await perform(self.rt, req, lang)
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
            # The core's sentence points at a self-service link Zoom does not have yet.
            unknown = lang or self.rt.settings.server.language
            raise ActionRefused(not_linked(user_jid, unknown), refusal.code) from None
