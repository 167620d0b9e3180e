"""The platform-free domain objects that flow between ingest, actions, storage and adapters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

JSONObject = dict[str, Any]


class Severity(StrEnum):
    """Incident and alert severity, highest first."""

    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Smaller is more severe, so ``min`` picks the worst."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}


def worst(severities: list[Severity]) -> Severity:
    """The most severe of ``severities``."""
    return min(severities, key=lambda s: s.rank)


class Status(StrEnum):
    """Incident status."""

    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class AlertAction(StrEnum):
    """What one incoming event asks for."""

    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Verb(StrEnum):
    """Everything a person can do to an incident."""

    ACK = "ack"
    CLOSE = "close"
    REOPEN = "reopen"
    ESCALATE = "escalate"
    COMMENT = "comment"
    SNOOZE = "snooze"
    ASSIGN = "assign"
    SEVERITY = "severity"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One normalised event from a monitoring tool."""

    dedup_key: str
    action: AlertAction
    title: str
    severity: Severity
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    source: str | None = None
    source_url: str | None = None


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """Everything one request carried: events that share a group key share an incident."""

    events: tuple[AlertEvent, ...]
    group_key: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event on an incident's timeline."""

    at: datetime
    kind: str
    actor: str | None
    source: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert as shown under its incident."""

    dedup_key: str
    title: str
    description: str
    severity: Severity
    status: str
    labels: Mapping[str, str]
    details: Mapping[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    source_url: str | None
    count: int
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class Incident:
    """An incident and what people need to act on it."""

    number: int
    title: str
    description: str
    severity: Severity
    status: Status
    service: str
    integration: str | None
    created_at: datetime
    updated_at: datetime
    acked_by: str | None = None
    acked_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    assignees: tuple[str, ...] = ()
    escalation_step: int = 0
    escalation_round: int = 0
    escalate_at: datetime | None = None
    snoozed_until: datetime | None = None
    policy: Mapping[str, Any] | None = None
    level_started_at: datetime | None = None
    reminders: int = 0
    alert_count: int = 0
    labels: Mapping[str, str] = field(default_factory=dict)
    alerts: tuple[AlertView, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A person asking to change an incident, from any surface.

    Either ``member`` is known (REST, web) or ``platform``/``workspace``/``platform_user_id``
    name a chat account that identity links resolve to a member.
    """

    incident: int
    verb: Verb
    source: str
    args: Mapping[str, Any] = field(default_factory=dict)
    member: str | None = None
    platform: str | None = None
    workspace: str = ""
    platform_user_id: str | None = None
    callback_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an action did, with the sentence to show the person who asked."""

    changed: bool
    message: str
    incident: Incident | None = None
    code: str = "ok"
    actor: str | None = None
