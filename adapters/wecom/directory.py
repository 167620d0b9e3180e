"""Unlinked WeCom users found among the members: WeCom is asked whose UserID each candidate
member's mobile (``user/getuserid``) or email (``user/get_userid_by_email``) is, and a UserID
that turns out to be exactly one member's is that member.

WeCom has no batch form of either call, and blocks both for a day once the lookups that miss
pass a fifth of the corp's seats. So: only members with no WeCom identity in the
configuration are looked up, a member's email only when their mobile found nobody, a few
calls at a time, one search at a time, and every answer (a miss too) is kept for hours, so
a stranger pressing a button again costs no call at all.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from adapters.directory import Answers, candidates, directory_mobile, only_match
from adapters.wecom.api import WecomApi
from gateway.config import MemberSettings
from gateway.errors import PlatformError, RateLimited
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PLATFORM = "wecom"
HIT_TTL = timedelta(hours=12)
MISS_TTL = timedelta(hours=24)  # WeCom counts the lookups that miss per day
LOOKUPS_AT_ONCE = 4
# WeCom waits 5 s for a callback's answer, and the action itself needs some of it. A search
# cut short keeps what it learned: the next press carries on from there.
BUDGET_S = 3.0
MOBILE, CORPORATE_EMAIL, PROFILE_EMAIL = "mobile", "email:corporate", "email:profile"

Question = tuple[str, str]  # (MOBILE | CORPORATE_EMAIL | PROFILE_EMAIL, the mobile or email)


class WecomDirectory:
    """Finds the one member a WeCom UserID belongs to, by the members' mobiles and emails."""

    def __init__(self, rt: Runtime, api: WecomApi, *, budget_s: float = BUDGET_S) -> None:
        self.rt = rt
        self.api = api
        self.answers: Answers[Question, str] = Answers(
            rt.clock.now, hit_ttl=HIT_TTL, miss_ttl=MISS_TTL
        )
        self._budget_s = budget_s
        self._gate = asyncio.Semaphore(LOOKUPS_AT_ONCE)
        self._search = asyncio.Lock()
        self._paused_until: datetime | None = None
        self._asking: dict[Question, asyncio.Lock] = {}

    async def find(self, user_id: str) -> tuple[str, str] | None:
        """``(member, how)`` — how: ``"mobile"`` or ``"email"`` — when WeCom maps exactly one
        candidate member's mobile or email to ``user_id``; None otherwise, and when WeCom
        could not be asked now (the search is then tried again at the next action)."""
        people = candidates(self.rt.settings, PLATFORM)
        if not people:
            return None
        # One search at a time: a second press waits, then finds every answer kept.
        async with self._search:
            if self._paused():
                return None
            try:
                async with asyncio.timeout(self._budget_s):
                    found = await asyncio.gather(
                        *(self._whose(person) for person in people.values()),
                        return_exceptions=True,
                    )
            except TimeoutError:
                log.warning("wecom: looking up %s took too long; it goes on next time", user_id)
                return None
        wanted = user_id.casefold()
        matches: dict[str, str] = {}
        for name, result in zip(people, found, strict=True):
            if isinstance(result, PlatformError):
                log.warning("wecom lookup for %s failed, not linked: %s", user_id, result)
                return None
            if isinstance(result, BaseException):
                raise result
            uid, how = result
            if uid is not None and uid.casefold() == wanted:
                matches[name] = how
        if len(matches) > 1:
            log.warning("wecom account %s is several members' (%s): not linked", user_id, matches)
        return only_match(matches)

    async def _whose(self, person: MemberSettings) -> tuple[str | None, str]:
        """The UserID WeCom gives ``person``'s mobile, else their email; and which it was."""
        mobile = directory_mobile(person.phone) if person.phone else None
        if mobile is not None:
            uid = await self._ask((MOBILE, mobile))
            if uid is not None:
                return uid, "mobile"
        if person.email:
            email = person.email.strip()
            for kind in (CORPORATE_EMAIL, PROFILE_EMAIL):
                uid = await self._ask((kind, email))
                if uid is not None:
                    return uid, "email"
        return None, ""

    async def _ask(self, question: Question) -> str | None:
        """WeCom's answer to one lookup, kept; raises PlatformError when it gave none.

        Two members with one mobile (or email) make one question, asked once.
        """
        asking = self._asking.setdefault(question, asyncio.Lock())
        try:
            async with asking:
                known = self.answers.get(question)
                if known is not None:
                    return known.value
                return await self._call(question)
        finally:
            if not asking.locked():
                self._asking.pop(question, None)

    async def _call(self, question: Question) -> str | None:
        kind, value = question
        async with self._gate:
            if self._paused():
                raise RateLimited("wecom lookups are paused", self._wait_s())
            try:
                if kind == MOBILE:
                    uid = await self.api.userid_by_mobile(value)
                else:
                    uid = await self.api.userid_by_email(value, corporate=kind == CORPORATE_EMAIL)
            except RateLimited as exc:
                self._paused_until = self.rt.clock.now() + timedelta(seconds=exc.retry_after_s)
                raise
        self.answers.put(question, uid)
        return uid

    def _paused(self) -> bool:
        """Whether WeCom said to slow down a moment ago (no lookup until it is over)."""
        return self._paused_until is not None and self.rt.clock.now() < self._paused_until

    def _wait_s(self) -> float:
        if self._paused_until is None:
            return 0.0
        return max((self._paused_until - self.rt.clock.now()).total_seconds(), 0.0)
