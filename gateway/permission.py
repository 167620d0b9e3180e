"""Who may act on an incident: its service's ``may_act`` setting, and the refusal that says why.

``everyone``: any configured member. ``team``: the members its escalation policies name (a
``group:`` target means the group's members, a ``schedule:`` target everyone in the schedule's
rotations and overrides) and those its ``team`` list names. ``responders``: only the people
involved with the incident itself.

In every mode the people involved with an incident may act on it: everyone it paged so far,
whoever it is assigned to now, whoever acknowledged it. So a member allowed to act may escalate
or assign the incident to anyone, and that person may then act on it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import messages
from gateway.config import ServiceSettings, Settings
from gateway.domain import Incident, TimelineEntry
from gateway.errors import ActionRefused
from gateway.notices import PAGING_EVENTS
from gateway.policies import split_target
from storage import repo

# Events whose actor took the incident on (a snooze acknowledges too).
TAKING_EVENTS = frozenset({"acknowledged", "snoozed"})


def team_of(settings: Settings, service: ServiceSettings) -> frozenset[str]:
    """The members ``service``'s policies and ``team`` list name, groups and schedules expanded."""
    entries = [
        target
        for _, policy in service.escalation_policies()
        for level in policy.levels
        for target in level.targets
    ]
    people: set[str] = set()
    for entry in (*entries, *service.team):
        kind, name = split_target(entry)
        if kind == "member":
            people.add(name)
        elif kind == "group" and (group := settings.groups.get(name)) is not None:
            people.update(group.members)
        elif kind == "schedule" and (schedule := settings.schedules.get(name)) is not None:
            people.update(member for layer in schedule.layers for member in layer.members)
            people.update(override.member for override in schedule.overrides)
    return frozenset(people)


def involved(incident: Incident, history: Iterable[TimelineEntry] = ()) -> set[str]:
    """Everyone ``incident`` paged so far, its assignees and whoever acknowledged it.

    ``history`` is its timeline (only paging and taking events are read).
    """
    people = {*incident.assignees, *filter(None, [incident.acked_by])}
    for entry in history:
        if entry.kind in PAGING_EVENTS:
            people.update(str(member) for member in entry.data.get("assignees") or ())
        elif entry.kind in TAKING_EVENTS and entry.actor:
            people.add(entry.actor)
    return people


def guarded(settings: Settings, incident: Incident) -> bool:
    """Whether not every member may act on ``incident``."""
    service = settings.services.get(incident.service)
    return service is not None and service.may_act != "everyone"


async def load_involved(
    conn: AsyncConnection, settings: Settings, incidents: Mapping[int, Incident]
) -> dict[int, set[str]]:
    """``involved`` for each of ``incidents`` whose service limits who may act (one query)."""
    numbers = sorted(n for n, incident in incidents.items() if guarded(settings, incident))
    history = await repo.timelines_for(conn, numbers, PAGING_EVENTS | TAKING_EVENTS)
    return {n: involved(incidents[n], history.get(n, ())) for n in numbers}


def check(settings: Settings, incident: Incident, member: str, people: Set[str], lang: str) -> None:
    """Raise ActionRefused(code="not_allowed") unless ``member`` may act on ``incident``.

    ``people`` are those involved with it (see ``involved``).
    """
    service = settings.services.get(incident.service)
    if service is None or service.may_act == "everyone" or member in people:
        return
    if service.may_act == "team" and member in team_of(settings, service):
        return
    raise ActionRefused(
        messages.text(
            f"not_allowed_{service.may_act}",
            lang,
            member=member,
            number=incident.number,
            service=incident.service,
        ),
        "not_allowed",
    )
