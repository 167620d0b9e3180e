"""Telegram accounts acting on incidents: identity links, and the language to answer in."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway import messages
from gateway.actions import perform
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused
from gateway.identity import member_for
from gateway.runtime import Runtime

PLATFORM = "telegram"
# Telegram has no workspaces: a user id is the same person in every chat.
WORKSPACE = ""
LANG = "en"
LANGS = ("en", "zh")


def language(code: str | None) -> str:
    """The language to answer a person in, from their Telegram client's ``language_code``."""
    base = (code or "").lower().split("-")[0]
    return base if base in LANGS else LANG


def not_linked(user_id: str, lang: str = LANG) -> str:
    """What an unlinked Telegram user is told (short: it fits a button's answer)."""
    return messages.text("telegram_not_linked", lang, user=user_id)


class TelegramActors:
    """Turns a Telegram user into a member and acts as them.

    Telegram offers no email to link by: an account is linked by an admin (config identities
    or ``ackgate mapping import``) before it can act.
    """

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def linked(self, user_id: str) -> str | None:
        """The member this Telegram user is linked to, if any."""
        return await member_for(self.rt, PLATFORM, WORKSPACE, user_id)

    async def require_member(self, user_id: str, lang: str = LANG) -> str:
        """The member this Telegram user is; raises ActionRefused when there is none."""
        member = await self.linked(user_id)
        if member is None:
            raise ActionRefused(not_linked(user_id, lang), "unknown_user")
        return member

    async def perform(
        self,
        *,
        user_id: str,
        incident: int,
        verb: Verb,
        lang: str = LANG,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
    ) -> Outcome:
        """``gateway.actions.perform`` as this Telegram user; raises ActionRefused, NotFound."""
        req = ActionRequest(
            incident=incident,
            verb=verb,
            source=PLATFORM,
            args=dict(args or {}),
            platform=PLATFORM,
            workspace=WORKSPACE,
            platform_user_id=user_id,
            callback_id=callback_id,
        )
        try:
            return await perform(self.rt, req, lang)
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
            # The core's sentence points at a self-service link Telegram does not have yet.
            raise ActionRefused(not_linked(user_id, lang), refusal.code) from None
