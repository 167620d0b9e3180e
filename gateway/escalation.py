"""Escalation policy arithmetic: who is paged at each step and when the next step is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.config import Settings


@dataclass(frozen=True, slots=True)
class Step:
    """Where an incident stands in its service's policy."""

    assignees: tuple[str, ...]
    step: int
    round: int
    escalate_at: datetime | None


def first_step(settings: Settings, service: str, now: datetime) -> Step:
    """The policy's first level, or nobody when the service has no policy."""
    policy = settings.services[service].escalation if service in settings.services else None
    if policy is None:
        return Step((), 0, 0, None)
    level = policy.levels[0]
    return Step(tuple(level.targets), 0, 0, now + timedelta(minutes=level.wait_min))


def next_step(
    settings: Settings, service: str, step: int, round_: int, now: datetime
) -> Step | None:
    """The level after ``step`` (wrapping while repeats remain), or None when exhausted."""
    policy = settings.services[service].escalation if service in settings.services else None
    if policy is None:
        return None
    step += 1
    if step >= len(policy.levels):
        if round_ >= policy.repeat:
            return None
        step, round_ = 0, round_ + 1
    level = policy.levels[step]
    return Step(tuple(level.targets), step, round_, now + timedelta(minutes=level.wait_min))
