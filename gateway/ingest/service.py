"""Turn a parsed alert batch into incidents in one transaction: dedup, group, open, close."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.config import IntegrationSettings, Settings
from gateway.domain import (
    AlertAction,
    AlertBatch,
    AlertEvent,
    Incident,
    Severity,
    Status,
    TimelineEntry,
    worst,
)
from gateway.escalation import first_step
from gateway.notices import notices_for
from gateway.routing import route
from gateway.runtime import Runtime
from storage import repo

log = logging.getLogger(__name__)

_SEP = "\x1f"


@dataclass
class IngestResult:
    """What one request did: incidents opened, touched and closed, and the dedup keys seen."""

    opened: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    closed: list[int] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    dedup_keys: list[str] = field(default_factory=list)
    ignored: int = 0

    @property
    def incidents(self) -> list[int]:
        """Every incident number the request touched, once each, in order."""
        seen: dict[int, None] = {}
        for n in (*self.opened, *self.updated, *self.closed, *self.acknowledged):
            seen.setdefault(n, None)
        return list(seen)


@dataclass
class Work:
    """Rows to write, gathered before any statement runs."""

    new_alerts: list[dict[str, Any]] = field(default_factory=list)
    refreshed: list[dict[str, Any]] = field(default_factory=list)
    added: dict[int, tuple[int, Severity]] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)
    resolving: set[int] = field(default_factory=set)  # incidents that saw a resolved alert
    services: dict[int, str] = field(default_factory=dict)


async def ingest(rt: Runtime, integration: str, batch: AlertBatch) -> IngestResult:
    """Store ``batch``; returns only after the transaction committed."""
    settings = rt.settings
    integ = settings.integrations[integration]
    result = IngestResult(dedup_keys=[e.dedup_key for e in batch.events])
    async with rt.db.write() as conn:
        now = rt.clock.now()
        await apply_batch(conn, settings, integration, integ, batch, now, result)
    rt.metrics.alerts_received.labels(integration).inc(len(batch.events))
    if result.opened or result.closed or result.acknowledged:
        rt.wake_outbox()
    for n in result.opened:
        log.info("incident #%s opened by %s", n, integration)
    for n in result.closed:
        log.info("incident #%s closed: all alerts resolved", n)
    return result


async def apply_batch(
    conn: AsyncConnection,
    settings: Settings,
    integration: str,
    integ: IntegrationSettings,
    batch: AlertBatch,
    now: datetime,
    result: IngestResult,
) -> Work:
    group_open_key = f"{integration}{_SEP}{batch.group_key}" if batch.group_key else None
    alert_keys = [f"{integration}{_SEP}{e.dedup_key}" for e in batch.events]
    await repo.lock_keys(conn, [*alert_keys, *([group_open_key] if group_open_key else [])])
    existing = await repo.find_open_alerts(conn, alert_keys)
    group_incident = await repo.find_open_incident(conn, group_open_key) if group_open_key else None
    work = Work()
    fresh: dict[str, int] = {}  # new alerts' open keys in this batch → incident, for repeats
    to_ack: set[int] = set()
    for event, open_key in zip(batch.events, alert_keys, strict=True):
        known = existing.get(open_key)
        if event.action is AlertAction.TRIGGER:
            if known is not None:
                work.refreshed.append(_refresh(known.id, "firing", now, None, 1))
                work.touched.add(known.incident_id)
                continue
            if open_key in fresh:
                continue
            incident_id = group_incident
            if incident_id is None:
                incident_id = await _open(
                    conn, settings, integration, batch, event, group_open_key, now, work
                )
                result.opened.append(incident_id)
                if group_open_key:
                    group_incident = incident_id
            else:
                count, severity = work.added.get(incident_id, (0, event.severity))
                work.added[incident_id] = (count + 1, worst([severity, event.severity]))
                work.touched.add(incident_id)
            fresh[open_key] = incident_id
            work.new_alerts.append(_alert_row(integration, event, open_key, incident_id, now))
        elif known is None:
            result.ignored += 1
        elif event.action is AlertAction.RESOLVE:
            ends = event.ends_at or now
            work.refreshed.append(_refresh(known.id, "resolved", now, ends, 0))
            work.touched.add(known.incident_id)
            work.resolving.add(known.incident_id)
        else:
            to_ack.add(known.incident_id)
    await repo.insert_alerts(conn, work.new_alerts)
    await repo.refresh_alerts(conn, work.refreshed)
    await repo.bump_incidents(conn, work.added, now)
    touched = sorted(work.touched - set(result.opened))
    result.updated.extend(touched)
    if integ.close_on_resolve and work.resolving:
        firing = await repo.firing_counts(conn, sorted(work.resolving))
        for incident_id, count in firing.items():
            if count == 0 and await _close(conn, settings, integration, incident_id, now, work):
                result.closed.append(incident_id)
    for incident_id in sorted(to_ack - set(result.closed)):
        if await _ack(conn, settings, integration, incident_id, now, work):
            result.acknowledged.append(incident_id)
    await repo.add_timeline(conn, work.timeline)
    await repo.add_deliveries(conn, work.deliveries)
    return work


def _refresh(
    alert_id: int, status: str, now: datetime, ends: datetime | None, inc: int
) -> dict[str, Any]:
    return {"id": alert_id, "status": status, "last_seen": now, "ends_at": ends, "inc": inc}


def _alert_row(
    integration: str, event: AlertEvent, open_key: str, incident_id: int, now: datetime
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "integration": integration,
        "dedup_key": event.dedup_key,
        "open_key": open_key,
        "title": event.title,
        "description": event.description,
        "severity": event.severity.value,
        "status": "firing",
        "labels": dict(event.labels),
        "details": dict(event.details),
        "starts_at": event.starts_at,
        "ends_at": None,
        "source_url": event.source_url,
        "count": 1,
        "first_seen": now,
        "last_seen": now,
    }


async def _open(
    conn: AsyncConnection,
    settings: Settings,
    integration: str,
    batch: AlertBatch,
    event: AlertEvent,
    group_open_key: str | None,
    now: datetime,
    work: Work,
) -> int:
    service = route(settings, integration, event)
    step = first_step(settings, service, now)
    # Later alerts of the same batch are counted as they join (``Work.added``).
    firing = 1
    if group_open_key:
        severity = worst([e.severity for e in batch.events if e.action is AlertAction.TRIGGER])
    else:
        severity = event.severity
    values: dict[str, Any] = {
        "title": event.title,
        "description": event.description,
        "severity": severity.value,
        "status": Status.TRIGGERED.value,
        "service": service,
        "integration": integration,
        "group_key": batch.group_key,
        "open_key": group_open_key or f"{integration}{_SEP}{_SEP}{event.dedup_key}",
        "created_at": now,
        "updated_at": now,
        "assignees": list(step.assignees),
        "escalation_step": step.step,
        "escalation_round": step.round,
        "escalate_at": step.escalate_at,
        "alert_count": firing,
        "labels": dict(event.labels),
    }
    number = await repo.insert_incident(conn, values)
    work.services[number] = service
    incident = Incident(
        number=number,
        title=event.title,
        description=event.description,
        severity=Severity(severity),
        status=Status.TRIGGERED,
        service=service,
        integration=integration,
        created_at=now,
        updated_at=now,
        assignees=step.assignees,
        escalate_at=step.escalate_at,
        alert_count=firing,
        labels=dict(event.labels),
    )
    data: dict[str, Any] = {"assignees": list(step.assignees)}
    _record(settings, incident, "triggered", integration, data, now, work)
    return number


def _record(
    settings: Settings,
    incident: Incident,
    kind: str,
    source: str,
    data: dict[str, Any],
    now: datetime,
    work: Work,
) -> None:
    entry = TimelineEntry(at=now, kind=kind, actor=None, source=source, data=data)
    work.timeline.append(
        {
            "incident_id": incident.number,
            "at": now,
            "kind": kind,
            "actor": None,
            "source": source,
            "data": data,
        }
    )
    work.deliveries.extend(notices_for(settings, incident, entry, now))


async def _close(
    conn: AsyncConnection,
    settings: Settings,
    integration: str,
    incident_id: int,
    now: datetime,
    work: Work,
) -> bool:
    incident = await repo.load_incident(conn, incident_id, lock=True)
    if incident is None or incident.status is Status.CLOSED:
        return False
    values = {
        "status": Status.CLOSED.value,
        "closed_by": None,
        "closed_at": now,
        "updated_at": now,
        "open_key": None,
        "escalate_at": None,
        "snoozed_until": None,
    }
    await repo.update_incident(conn, incident_id, values)
    await repo.close_alerts(conn, incident_id)
    closed = replace(incident, status=Status.CLOSED, closed_at=now, updated_at=now)
    _record(settings, closed, "closed", integration, {"reason": "resolved"}, now, work)
    return True


async def _ack(
    conn: AsyncConnection,
    settings: Settings,
    integration: str,
    incident_id: int,
    now: datetime,
    work: Work,
) -> bool:
    incident = await repo.load_incident(conn, incident_id, lock=True)
    if incident is None or incident.status is not Status.TRIGGERED:
        return False
    values = {
        "status": Status.ACKNOWLEDGED.value,
        "acked_by": integration,
        "acked_at": now,
        "updated_at": now,
        "escalate_at": None,
    }
    await repo.update_incident(conn, incident_id, values)
    acked = replace(incident, status=Status.ACKNOWLEDGED, acked_by=integration, acked_at=now)
    _record(settings, acked, "acknowledged", integration, {}, now, work)
    return True
