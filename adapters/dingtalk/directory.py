"""Unlinked DingTalk accounts found among the members: the person's profile
(``topapi/v2/user/get``) gives their mobile and emails, matched against the members who have
no DingTalk identity in the configuration; when DingTalk shows the app no mobile, each such
member's mobile is asked about instead (``topapi/v2/user/getbymobile``).

One profile call per unlinked person, not one call per member, and every answer is kept:
an account that matched nobody is not asked about again for MISS_TTL, a mobile's answer
for hours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta

from adapters.dingtalk.api import DingtalkApi
from adapters.directory import Answers, candidates, directory_mobile, only_match
from gateway.config import MemberSettings
from gateway.contacts import same_phone
from gateway.errors import PlatformError
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PLATFORM = "dingtalk"
MISS_TTL = timedelta(minutes=10)  # an account that matched nobody
MOBILE_HIT_TTL = timedelta(hours=12)
MOBILE_MISS_TTL = timedelta(hours=1)
LOOKUPS_AT_ONCE = 4  # getbymobile calls in flight
# DingTalk wants a card click answered within 2 s, the action included; a search cut short
# keeps what it learned and carries on at the next click.
BUDGET_S = 1.2
EMAIL_FIELDS = ("org_email", "email")  # the organization's mailbox, the profile's email


class DingtalkDirectory:
    """Finds the one member a DingTalk staff id belongs to, by mobile or email."""

    def __init__(self, rt: Runtime, api: DingtalkApi, *, budget_s: float = BUDGET_S) -> None:
        self.rt = rt
        self.api = api
        self.misses: Answers[str, str] = Answers(rt.clock.now, hit_ttl=MISS_TTL, miss_ttl=MISS_TTL)
        self.mobiles: Answers[str, str] = Answers(
            rt.clock.now, hit_ttl=MOBILE_HIT_TTL, miss_ttl=MOBILE_MISS_TTL
        )
        self._budget_s = budget_s
        self._gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)

    async def find(self, staff_id: str) -> tuple[str, str] | None:
        """``(member, how)`` — how: ``"mobile"`` or ``"email"`` — when exactly one candidate
        member's mobile or email is this person's; None otherwise. A failed lookup is not
        remembered: the next action tries again."""
        if self.misses.get(staff_id) is not None:
            return None
        people = candidates(self.rt.settings, PLATFORM)
        if not people:
            return None
        try:
            async with asyncio.timeout(self._budget_s):
                matches = await self._matches(staff_id, people)
        except PlatformError as exc:
            log.warning("dingtalk lookup for %s failed, not linked: %s", staff_id, exc)
            return None
        except TimeoutError:
            log.warning("dingtalk: looking up %s took too long; it goes on next time", staff_id)
            return None
        found = only_match(matches)
        if found is None:
            if matches:
                log.warning("dingtalk account %s is several members' (%s)", staff_id, matches)
            self.misses.put(staff_id, None)
        return found

    def forget(self, staff_id: str) -> None:
        """Look ``staff_id`` up again at their next action."""
        self.misses.forget(staff_id)

    async def _matches(self, staff_id: str, people: Mapping[str, MemberSettings]) -> dict[str, str]:
        profile = await self.api.user_profile(staff_id)
        if profile is None:
            return {}  # nobody in the organization by that id
        shown, code = profile.get("mobile"), profile.get("state_code")
        mobile = shown if isinstance(shown, str) and shown else None
        # A number abroad is shown without its country code (``state_code``) in front.
        numbers = [mobile] if mobile is not None else []
        if mobile is not None and isinstance(code, str) and code.isdigit() and code != "86":
            numbers.append(f"+{code}{mobile}")
        emails = {
            value.strip().casefold()
            for value in (profile.get(f) for f in EMAIL_FIELDS)
            if isinstance(value, str) and value.strip()
        }
        matches: dict[str, str] = {}
        for name, person in people.items():
            if person.phone and any(same_phone(person.phone, n) for n in numbers):
                matches[name] = "mobile"
            elif person.email and person.email.strip().casefold() in emails:
                matches[name] = "email"
        if matches or mobile is not None:
            return matches
        # No mobile shown (the app may not read that field): ask whose each mobile is.
        return await self._by_mobile(staff_id, people)

    async def _by_mobile(
        self, staff_id: str, people: Mapping[str, MemberSettings]
    ) -> dict[str, str]:
        numbers = {
            name: number
            for name, person in people.items()
            if person.phone and (number := directory_mobile(person.phone)) is not None
        }
        asked = await asyncio.gather(
            *(self._whose(number) for number in dict.fromkeys(numbers.values())),
            return_exceptions=True,
        )
        whose: dict[str, str | None] = {}
        for number, result in zip(dict.fromkeys(numbers.values()), asked, strict=True):
            if isinstance(result, BaseException):
                raise result
            whose[number] = result
        return {name: "mobile" for name, number in numbers.items() if whose[number] == staff_id}

    async def _whose(self, number: str) -> str | None:
        known = self.mobiles.get(number)
        if known is not None:
            return known.value
        async with self._gate:
            staff_id = await self.api.user_id_by_mobile(number)
        self.mobiles.put(number, staff_id)
        return staff_id
