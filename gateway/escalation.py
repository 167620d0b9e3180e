"""Escalation arithmetic: which policy an incident gets, who each level pages, and when its
next timer is due. Pure: every function takes the time and returns new column values."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from gateway import schedules
from gateway.config import Settings
from gateway.domain import Incident, Status
from gateway.matching import Subject, matches
from gateway.policies import EscalationSettings, LevelSettings, split_target
from gateway.timewindow import in_any

log = logging.getLogger(__name__)

# The level index while a policy's ``delay_s`` holds back the first page.
WAITING = -1


@dataclass(frozen=True, slots=True)
class Progress:
    """An incident's escalation columns."""

    policy: Mapping[str, Any] | None  # the frozen policy; None: nobody is paged by a policy
    step: int  # the current level's index, or WAITING
    round: int  # how many times the policy has started over
    started_at: datetime | None  # when the current level started
    reminders: int  # reminders the current level has sent
    due_at: datetime | None  # the next timer (the ``escalate_at`` column)
    assignees: tuple[str, ...]

    def values(self) -> dict[str, Any]:
        """The incident columns this progress sets."""
        return {
            "escalation_step": self.step,
            "escalation_round": self.round,
            "level_started_at": self.started_at,
            "reminders": self.reminders,
            "escalate_at": self.due_at,
            "assignees": list(self.assignees),
        }


NO_POLICY = Progress(None, 0, 0, None, 0, None, ())


def progress_of(incident: Incident) -> Progress:
    """The escalation columns of ``incident``."""
    return Progress(
        incident.policy,
        incident.escalation_step,
        incident.escalation_round,
        incident.level_started_at,
        incident.reminders,
        incident.escalate_at,
        incident.assignees,
    )


def choose(
    settings: Settings, service: str, subject: Subject, at: datetime
) -> EscalationSettings | None:
    """The service's first enabled policy that matches the incident at ``at``, if any."""
    svc = settings.services.get(service)
    if svc is None:
        return None
    for _key, policy in svc.escalation_policies():
        if not policy.enabled:
            continue
        if matches(policy, subject) and in_any(policy.windows, at):
            return policy
    return None


def freeze(policy: EscalationSettings) -> dict[str, Any]:
    """The policy as stored on the incident: later config edits leave it as it was."""
    return policy.model_dump(mode="json")


def thaw(doc: Mapping[str, Any] | None) -> EscalationSettings | None:
    """The frozen policy back as settings; None (and a log line) if it no longer reads."""
    if doc is None:
        return None
    try:
        return EscalationSettings.model_validate(doc)
    except ValidationError as exc:
        log.warning("a frozen escalation policy no longer validates, escalation stops: %s", exc)
        return None


def start(
    settings: Settings,
    service: str,
    subject: Subject,
    now: datetime,
) -> Progress:
    """Where a new incident's escalation starts: level 1 now, or after the policy's delay."""
    policy = choose(settings, service, subject, now)
    if policy is None:
        return NO_POLICY
    frozen = freeze(policy)
    if policy.delay_s:
        return Progress(frozen, WAITING, 0, now, 0, now + timedelta(seconds=policy.delay_s), ())
    return enter(settings, frozen, policy, 0, 0, now)


def enter(
    settings: Settings,
    frozen: Mapping[str, Any],
    policy: EscalationSettings,
    step: int,
    round_: int,
    now: datetime,
) -> Progress:
    """Level ``step`` starts now: its targets, resolved at this moment, are the assignees."""
    level = policy.levels[step]
    assignees = resolve(settings, level.targets, now)
    return Progress(frozen, step, round_, now, 0, due_at(level, now, 0, acked=False), assignees)


def due_at(
    level: LevelSettings, started_at: datetime, reminders: int, *, acked: bool
) -> datetime | None:
    """The level's next timer: a reminder, or the move to the next level, or none."""
    escalate = started_at + timedelta(minutes=level.wait_min)
    if acked:
        return escalate if level.escalate_if == "open" else None
    if level.loop_every_min is not None and reminders < level.loop_times:
        remind = started_at + timedelta(minutes=level.loop_every_min * (reminders + 1))
        return min(remind, escalate)
    return escalate


def level_of(incident: Incident) -> LevelSettings | None:
    """The level the incident is at (None before the first page or without a policy)."""
    levels = (incident.policy or {}).get("levels") or ()
    if not 0 <= incident.escalation_step < len(levels):
        return None
    try:
        # Only the current level is read back: this runs for every notice.
        return LevelSettings.model_validate(levels[incident.escalation_step])
    except ValidationError as exc:
        log.warning("a frozen escalation level no longer validates: %s", exc)
        return None


def following(settings: Settings, progress: Progress, now: datetime) -> Progress | None:
    """The next level (starting over while repeats remain), or None when exhausted."""
    policy = thaw(progress.policy)
    if policy is None or progress.policy is None:
        return None
    step, round_ = progress.step + 1, progress.round
    if step >= len(policy.levels):
        if round_ >= policy.repeat:
            return None
        step, round_ = 0, round_ + 1
    return enter(settings, progress.policy, policy, step, round_, now)


def restart(settings: Settings, progress: Progress, now: datetime) -> Progress:
    """Level 1 again (a reopen, or a snooze that ran out), with no delay."""
    policy = thaw(progress.policy)
    if policy is None or progress.policy is None:
        return NO_POLICY
    return enter(settings, progress.policy, policy, 0, 0, now)


def after_ack(progress: Progress) -> Progress:
    """An ack stops reminders, and the escalation unless the level waits for a close."""
    policy = thaw(progress.policy)
    if policy is None or not 0 <= progress.step < len(policy.levels) or progress.started_at is None:
        return replace(progress, due_at=None)
    level = policy.levels[progress.step]
    return replace(
        progress, due_at=due_at(level, progress.started_at, progress.reminders, acked=True)
    )


@dataclass(frozen=True, slots=True)
class Fired:
    """What a due timer did: the timeline kind it writes and the progress after it."""

    kind: str  # "paged", "reminded", "escalated", "escalation_exhausted", or "" (nothing due)
    progress: Progress


def fire(settings: Settings, incident: Incident, now: datetime) -> Fired:
    """Run the incident's due escalation timer."""
    progress = progress_of(incident)
    policy = thaw(progress.policy)
    if policy is None or progress.policy is None:
        return Fired("escalation_exhausted", replace(progress, due_at=None))
    if progress.step == WAITING:
        return Fired("paged", enter(settings, progress.policy, policy, 0, progress.round, now))
    level = policy.levels[min(progress.step, len(policy.levels) - 1)]
    started = progress.started_at or now
    acked = incident.status is Status.ACKNOWLEDGED
    if now < started + timedelta(minutes=level.wait_min):
        if acked or level.loop_every_min is None or progress.reminders >= level.loop_times:
            # Nothing is due yet (the timer was moved); just set it right.
            return Fired(
                "",
                replace(progress, due_at=due_at(level, started, progress.reminders, acked=acked)),
            )
        reminders = progress.reminders + 1
        return Fired(
            "reminded",
            replace(
                progress, reminders=reminders, due_at=due_at(level, started, reminders, acked=False)
            ),
        )
    if acked and level.escalate_if == "unacked":
        return Fired("", replace(progress, due_at=None))
    nxt = following(settings, progress, now)
    if nxt is None:
        return Fired("escalation_exhausted", replace(progress, due_at=None))
    return Fired("escalated", nxt)


def resolve(settings: Settings, targets: list[str], at: datetime) -> tuple[str, ...]:
    """Members named by ``targets`` at ``at``, each once, in order of first mention."""
    seen: dict[str, None] = {}
    for target in targets:
        kind, name = split_target(target)
        if kind == "member":
            found: tuple[str, ...] = (name,) if name in settings.members else ()
        elif kind == "group":
            group = settings.groups.get(name)
            found = tuple(group.members) if group else ()
        else:
            found = on_call(settings, name, at)
        for member in found:
            seen.setdefault(member, None)
    return tuple(seen)


def on_call(settings: Settings, schedule: str, at: datetime) -> tuple[str, ...]:
    """Who is on call on ``schedule`` at ``at`` (nobody for an unknown schedule)."""
    found = settings.schedules.get(schedule)
    return schedules.on_call(found, at) if found is not None else ()
