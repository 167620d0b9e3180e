"""DingTalk accounts acting on incidents: identity links, auto-linking by mobile, acting as them."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from adapters.bots.text import mobile
from adapters.dingtalk.api import DingtalkApi
from gateway import mapping, messages
from gateway.actions import perform
from gateway.domain import ActionRequest, Outcome, Verb
from gateway.errors import ActionRefused, PlatformError
from gateway.identity import member_for
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
LANG = "en"
# An internal app belongs to one organization, where a staff id names one person: accounts
# are linked under "", the way config identities and ``ackgate mapping import`` write them.
WORKSPACE = ""
# An account that matched no member is not looked up again for a while: a stranger's
# clicks must not become one getbymobile call per member each.
MISS_TTL_S = 10 * 60
MISSES_MAX = 1000
LOOKUPS_AT_ONCE = 4  # getbymobile calls in flight while linking one account


def not_linked(staff_id: str) -> str:
    """What an unlinked DingTalk user is told when they try to act."""
    return messages.text("dingtalk_not_linked", LANG, user=staff_id)


class DingtalkActors:
    """Turns a DingTalk user (staff id) into a member and acts as them."""

    def __init__(self, rt: Runtime, api: DingtalkApi) -> None:
        self.rt = rt
        self.api = api
        self._misses: OrderedDict[str, float] = OrderedDict()

    async def linked(self, staff_id: str) -> str | None:
        """The member this account is linked to, without asking DingTalk."""
        return await member_for(self.rt, PLATFORM, WORKSPACE, staff_id)

    async def member(self, staff_id: str) -> str | None:
        """The member this account is, linking it by mobile on first use."""
        return await self.linked(staff_id) or await self.link(staff_id)

    async def link(self, staff_id: str) -> str | None:
        """Link the account to the member whose phone DingTalk maps to this staff id, if one.

        DingTalk answers mobile → staff id (``getbymobile``), so the configured members'
        phones are looked up and the one that comes back as ``staff_id`` is linked.
        """
        missed = self._misses.get(staff_id)
        if missed is not None and time.monotonic() - missed < MISS_TTL_S:
            return None
        phones = {name: m.phone for name, m in self.rt.settings.members.items() if m.phone}
        gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

        async def lookup(phone: str) -> str | None:
            async with gate:
                return await self.api.user_id_by_mobile(mobile(phone))

        found = await asyncio.gather(
            *(lookup(phone) for phone in phones.values()), return_exceptions=True
        )
        for result in found:
            if isinstance(result, PlatformError):
                log.warning("dingtalk getbymobile for %s failed, not linked: %s", staff_id, result)
                return None
            if isinstance(result, BaseException):
                raise result
        matches = [name for name, who in zip(phones, found, strict=True) if who == staff_id]
        member = await self._link(staff_id, matches[0]) if len(matches) == 1 else None
        if member is None:
            self._misses[staff_id] = time.monotonic()
            self._misses.move_to_end(staff_id)
            while len(self._misses) > MISSES_MAX:
                self._misses.popitem(last=False)
        return member

    async def _link(self, staff_id: str, member: str) -> str | None:
        """Write the link the way ``ackgate mapping import`` does (a row found by its phone)."""
        person = self.rt.settings.members[member]
        row = io.StringIO()
        csv.writer(row).writerow([person.email or "", PLATFORM, staff_id, person.phone or ""])
        report = await mapping.import_csv(self.rt, row.getvalue(), WORKSPACE)
        if not (report.added or report.kept):
            log.warning(
                "dingtalk account %s not linked to %s: %s", staff_id, member, report.problems
            )
            return None
        log.info("dingtalk account %s linked to %s by mobile", staff_id, member)
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

        An account nobody linked yet is linked by mobile once and the action tried again.
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
            return await perform(self.rt, req, LANG)
        except ActionRefused as refusal:
            if refusal.code != "unknown_user":
                raise
        if await self.link(staff_id) is None:
            raise ActionRefused(not_linked(staff_id), "unknown_user")
        return await perform(self.rt, req, LANG)
