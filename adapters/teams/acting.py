"""Teams accounts acting on incidents: which member an account is (linking it by the email
the chat's roster gives, on first use), and acting as them."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from adapters.directory import Answers
from adapters.teams.activity import Incoming, Sender
from adapters.teams.addresses import SEPARATOR, Address, conversation_root
from adapters.teams.connector import ConnectorApi
from gateway import messages
from gateway.actions import perform
from gateway.domain import ActionRequest, JSONObject, Outcome, Verb
from gateway.errors import ActionRefused, PlatformError
from gateway.identity import link_by_email, member_for
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PLATFORM = "teams"
LANG = "en"
# Entra object ids are unique across tenants and ``29:`` ids are unique per bot: identities
# are linked under "", the way config identities and ``ackgate mapping import`` write them.
WORKSPACE = ""
# An account whose roster email matched no member is not asked about again for this long:
# a stranger pressing buttons costs the Bot Connector one call per MISS_TTL, not per press.
MISS_TTL = timedelta(minutes=5)
MISSES_MAX = 10_000


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


def roster(activity: Incoming) -> Address:
    """The conversation whose members the activity's sender is one of (a channel, not its
    thread)."""
    return Address(activity.service_url, conversation_root(activity.conversation_id))


def roster_emails(profile: JSONObject, *, pinned_tenant: bool) -> list[str]:
    """The addresses a roster profile vouches for, best first.

    The UPN's domain is one the person's tenant has verified; ``email`` (the mail attribute)
    is whatever that tenant's admins wrote, so it counts only when the bot serves one tenant
    (``teams.tenant_id``): a multi-tenant bot would let any tenant claim anyone's address.
    """
    email, upn = profile.get("email"), profile.get("userPrincipalName")
    found = [email] if pinned_tenant else []
    found.append(upn)
    return list(dict.fromkeys(a.strip() for a in found if isinstance(a, str) and a.strip()))


class TeamsActors:
    """Turns a Teams user into a member and acts as them.

    An account is linked by an admin (config identities or ``ackgate mapping import``), by
    the person (``link``), or here on first use: the Bot Connector's roster gives the
    person's email (``GET …/conversations/{id}/members/{userId}``, as botbuilder's
    ``TeamsInfo.get_member``), and a member configured with that email (case-insensitive,
    exactly one) gets the account. Accounts that matched nobody are remembered for MISS_TTL.
    """

    def __init__(self, rt: Runtime, api: ConnectorApi | None = None) -> None:
        self.rt = rt
        self.api = api
        self._misses: Answers[str, str] = Answers(
            rt.clock.now, hit_ttl=MISS_TTL, miss_ttl=MISS_TTL, size=MISSES_MAX
        )

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

    async def member(self, user: Sender, activity: Incoming) -> tuple[str, str | None]:
        """The identity ``user_id`` this user acts by and its member, linking the account by
        its roster email when nothing links it yet; unlinked, the id to link."""
        name, member = await self.account((user.aad_object_id, user.id), activity.service_url)
        if member is not None:
            return name, member
        member = await self.link_by_roster(user, roster(activity))
        return (user.account, member) if member is not None else (name, None)

    async def link_by_roster(self, user: Sender, where: Address) -> str | None:
        """Link the account to the member with its roster email, if exactly one; the member."""
        account = user.account
        if self.api is None or self._misses.get(account) is not None:
            return None
        try:
            profile = await self.api.member(where, user.id)
        except PlatformError as exc:
            log.warning("teams roster lookup of %s failed, not linked: %s", account, exc)
            self._misses.put(account, None)
            return None
        teams = self.rt.settings.teams
        pinned = teams is not None and bool(teams.tenant_id)
        object_id = profile.get("aadObjectId")
        if user.aad_object_id and object_id not in (None, user.aad_object_id):
            log.warning("teams roster answered for %s about %s: not linked", account, object_id)
            emails: list[str] = []
        else:
            emails = roster_emails(profile, pinned_tenant=pinned)
        for email in emails:
            member = await link_by_email(self.rt, PLATFORM, WORKSPACE, account, email)
            if member is not None:
                self._misses.forget(account)
                return member
        log.info("teams account %s: its roster email matches no member", account)
        self._misses.put(account, None)
        return None

    async def require_member(self, user: Sender, activity: Incoming, lang: str = LANG) -> str:
        """The member this Teams user is; raises ActionRefused when there is none."""
        _name, member = await self.member(user, activity)
        if member is None:
            raise ActionRefused(not_linked(user.account, lang), "unknown_user")
        return member

    async def perform(
        self,
        *,
        user: Sender,
        activity: Incoming,
        incident: int,
        verb: Verb,
        args: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
        lang: str | None = None,
    ) -> Outcome:
        """``gateway.actions.perform`` as this Teams user (answered in ``lang``, by default
        their member's language); raises ActionRefused and NotFound."""
        unknown = lang or self.rt.settings.server.language
        name, member = await self.member(user, activity)
        if member is None:
            raise ActionRefused(not_linked(user.account, unknown), "unknown_user")
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
            raise ActionRefused(not_linked(user.account, unknown), refusal.code) from None
