"""Who is on call now: each schedule's on-call members and each service's first level."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway import schedules
from gateway.config import Settings
from gateway.escalation import resolve
from gateway.timewindow import in_any


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who an incident opened now would page first (a service) or who holds a schedule."""

    kind: str  # "schedule" or "service"
    name: str
    members: tuple[str, ...]
    policy: str | None = None  # the service policy's name, when it has one


def on_call_now(settings: Settings, at: datetime) -> list[OnCall]:
    """Every schedule's members on call at ``at``, then every service's first level.

    For a service, that is level 1 of the first enabled policy whose time windows hold at
    ``at`` (severity and label conditions aside: they depend on the alert).
    """
    found = [
        OnCall("schedule", name, schedules.on_call(schedule, at))
        for name, schedule in sorted(settings.schedules.items())
    ]
    for name, service in sorted(settings.services.items()):
        for _key, policy in service.escalation_policies():
            if policy.enabled and in_any(policy.windows, at):
                members = resolve(settings, policy.levels[0].targets, at)
                found.append(OnCall("service", name, members, policy.name))
                break
    return found
