"""Turn parsed alert batches into incidents: dedup, group, open, close — many requests per
transaction (group commit), with one set of bulk statements for all of them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.config import Settings
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
from gateway.escalation import start
from gateway.matching import Subject
from gateway.notices import Audience, load_audience, notices_for
from gateway.routing import route
from gateway.runtime import Runtime
from gateway.wire import CARD_ALERTS
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


@dataclass(eq=False)
class NewIncident:
    """An incident this transaction opens; its number is known once it is inserted."""

    values: dict[str, Any]
    number: int = 0


Ref = int | NewIncident  # an existing incident's number, or one being opened


def number_of(ref: Ref) -> int:
    """The incident number behind ``ref`` (after insertion for new ones)."""
    return ref.number if isinstance(ref, NewIncident) else ref


@dataclass
class Work:
    """Everything a group of requests will write, decided before any statement runs."""

    new_incidents: list[NewIncident] = field(default_factory=list)
    new_alerts: list[tuple[Ref, dict[str, Any]]] = field(default_factory=list)
    refreshed: list[dict[str, Any]] = field(default_factory=list)
    added: dict[int, tuple[int, Severity]] = field(default_factory=dict)
    fresh: dict[str, tuple[Ref, dict[str, Any]]] = field(default_factory=dict)
    resolving: dict[Ref, list[int]] = field(default_factory=dict)  # incident → request indexes
    acking: dict[Ref, list[int]] = field(default_factory=dict)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    opened_by: list[tuple[int, NewIncident]] = field(default_factory=list)  # (request, incident)
    touched: list[tuple[int, int]] = field(default_factory=list)  # (request, incident)
    services: dict[int, str] = field(default_factory=dict)


Item = tuple[str, AlertBatch]


async def ingest(rt: Runtime, integration: str, batch: AlertBatch) -> IngestResult:
    """Store ``batch``; returns only after the transaction that holds it committed."""
    result: IngestResult = await rt.batcher("ingest", lambda items: _ingest_many(rt, items)).submit(
        (integration, batch)
    )
    # Logged here, in the request's own context, so each line carries its request id.
    rt.metrics.alerts_received.labels(integration).inc(len(batch.events))
    for n in result.opened:
        log.info("incident #%s opened by %s", n, integration)
    for n in result.closed:
        log.info("incident #%s closed: all alerts resolved", n)
    for n in result.acknowledged:
        log.info("incident #%s acknowledged by %s", n, integration)
    return result


async def _ingest_many(rt: Runtime, items: Sequence[Item]) -> list[IngestResult]:
    async with rt.db.write() as conn:
        now = rt.clock.now()
        results, work = await apply_batches(conn, rt.settings, items, now)
    if work.deliveries:
        rt.wake_outbox()
    return results


def _group_key(integration: str, batch: AlertBatch) -> str | None:
    return f"{integration}{_SEP}{batch.group_key}" if batch.group_key else None


def _alert_key(integration: str, event: AlertEvent) -> str:
    return f"{integration}{_SEP}{event.dedup_key}"


async def apply_batches(
    conn: AsyncConnection, settings: Settings, items: Sequence[Item], now: datetime
) -> tuple[list[IngestResult], Work]:
    """Apply every item, in order, as if each ran alone; returns per-item results."""
    alert_keys = {_alert_key(i, e) for i, b in items for e in b.events}
    group_keys = {k for i, b in items if (k := _group_key(i, b))}
    await repo.lock_keys(conn, [*alert_keys, *group_keys])
    open_alerts = await repo.find_open_alerts(conn, sorted(alert_keys))
    groups: dict[str, Ref] = dict(await repo.find_open_incidents(conn, sorted(group_keys)))
    results = [IngestResult(dedup_keys=[e.dedup_key for e in b.events]) for _, b in items]
    work = Work()
    for index, (integration, batch) in enumerate(items):
        _decide(
            settings,
            integration,
            batch,
            index,
            now,
            open_alerts,
            groups,
            results[index],
            work,
        )
    await _write(conn, settings, items, now, results, work)
    return results, work


def _decide(
    settings: Settings,
    integration: str,
    batch: AlertBatch,
    index: int,
    now: datetime,
    open_alerts: dict[str, repo.OpenAlert],
    groups: dict[str, Ref],
    result: IngestResult,
    work: Work,
) -> None:
    group_key = _group_key(integration, batch)
    for event in batch.events:
        key = _alert_key(integration, event)
        known = open_alerts.get(key)
        fresh = work.fresh.get(key)  # opened earlier in this transaction
        if event.action is AlertAction.TRIGGER:
            if known is not None:
                work.refreshed.append(_refresh(known.id, "firing", now, None, 1))
                work.touched.append((index, known.incident_id))
            elif fresh is not None:
                ref, row = fresh
                row.update(status="firing", ends_at=None, count=row["count"] + 1, last_seen=now)
                if isinstance(ref, int):
                    work.touched.append((index, ref))
            else:
                _add_alert(
                    settings, integration, batch, event, key, group_key, index, now, groups, work
                )
        elif known is not None:
            if event.action is AlertAction.RESOLVE:
                ends = event.ends_at or now
                work.refreshed.append(_refresh(known.id, "resolved", now, ends, 0))
                work.touched.append((index, known.incident_id))
                _note(work.resolving, known.incident_id, index)
            else:
                _note(work.acking, known.incident_id, index)
        elif fresh is not None:
            ref, row = fresh
            if event.action is AlertAction.RESOLVE:
                row.update(status="resolved", ends_at=event.ends_at or now, last_seen=now)
                _note(work.resolving, ref, index)
            else:
                _note(work.acking, ref, index)
        else:
            result.ignored += 1


def _add_alert(
    settings: Settings,
    integration: str,
    batch: AlertBatch,
    event: AlertEvent,
    key: str,
    group_key: str | None,
    index: int,
    now: datetime,
    groups: dict[str, Ref],
    work: Work,
) -> None:
    """A new alert: into its group's incident, or a new incident."""
    ref = groups.get(group_key) if group_key else None
    if ref is None:
        ref = _open(settings, integration, batch, event, group_key, now)
        work.new_incidents.append(ref)
        work.opened_by.append((index, ref))
        if group_key:
            groups[group_key] = ref
    elif isinstance(ref, NewIncident):
        ref.values["alert_count"] += 1
        ref.values["severity"] = worst([Severity(ref.values["severity"]), event.severity]).value
    else:
        count, severity = work.added.get(ref, (0, event.severity))
        work.added[ref] = (count + 1, worst([severity, event.severity]))
        work.touched.append((index, ref))
    row = _alert_row(integration, event, key, now)
    work.fresh[key] = (ref, row)
    work.new_alerts.append((ref, row))


def _note(requests_by_incident: dict[Ref, list[int]], ref: Ref, index: int) -> None:
    indexes = requests_by_incident.setdefault(ref, [])
    if index not in indexes:
        indexes.append(index)


async def _write(
    conn: AsyncConnection,
    settings: Settings,
    items: Sequence[Item],
    now: datetime,
    results: list[IngestResult],
    work: Work,
) -> None:
    numbers = await repo.insert_incidents(conn, [n.values for n in work.new_incidents])
    for incident, number in zip(work.new_incidents, numbers, strict=True):
        incident.number = number
        work.services[number] = incident.values["service"]
    for index, incident in work.opened_by:
        results[index].opened.append(incident.number)
    await repo.insert_alerts(
        conn, [{**row, "incident_id": number_of(ref)} for ref, row in work.new_alerts]
    )
    await repo.refresh_alerts(conn, work.refreshed)
    await repo.bump_incidents(conn, work.added, now)
    opened = {n.number for n in work.new_incidents}
    for index, number in work.touched:
        if number not in opened and number not in results[index].updated:
            results[index].updated.append(number)
    closing = await _closing(conn, settings, items, work)
    closed = await repo.close_incidents(conn, sorted(closing), now)
    acking = {number_of(r): idx for r, idx in work.acking.items()}
    acking = {n: idx for n, idx in acking.items() if n not in closing}
    by = {n: items[idx[0]][0] for n, idx in acking.items()}
    acked = await repo.acknowledge_incidents(conn, sorted(acking), now, by)
    # Everything that changed is known: now say so, to the people and chats that follow it.
    audience = await load_audience(
        conn,
        settings,
        [i.number for i in (*closed, *acked)],
        [m for n in work.new_incidents for m in n.values["assignees"]],
    )
    for new in work.new_incidents:
        _record(
            settings,
            _opened_view(new, work),
            "triggered",
            new.values["integration"],
            {"assignees": new.values["assignees"]},
            now,
            work,
            audience,
        )
    for shut in closed:
        for index in closing[shut.number]:
            results[index].closed.append(shut.number)
        _record(
            settings,
            shut,
            "closed",
            items[closing[shut.number][0]][0],
            {"reason": "resolved"},
            now,
            work,
            audience,
        )
    for taken in acked:
        for index in acking[taken.number]:
            results[index].acknowledged.append(taken.number)
        _record(settings, taken, "acknowledged", taken.acked_by or "", {}, now, work, audience)
    await repo.add_timeline(conn, work.timeline)
    await repo.add_deliveries(conn, work.deliveries)


async def _closing(
    conn: AsyncConnection, settings: Settings, items: Sequence[Item], work: Work
) -> dict[int, list[int]]:
    """Incidents whose last firing alert was resolved, where the integration closes them."""
    candidates = {
        number_of(ref): indexes
        for ref, indexes in work.resolving.items()
        if any(settings.integrations[items[i][0]].close_on_resolve for i in indexes)
    }
    if not candidates:
        return {}
    firing = await repo.firing_counts(conn, sorted(candidates))
    return {n: idx for n, idx in candidates.items() if firing[n] == 0}


def _refresh(
    alert_id: int, status: str, now: datetime, ends: datetime | None, inc: int
) -> dict[str, Any]:
    return {"id": alert_id, "status": status, "last_seen": now, "ends_at": ends, "inc": inc}


def _alert_row(integration: str, event: AlertEvent, open_key: str, now: datetime) -> dict[str, Any]:
    return {
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


def _open(
    settings: Settings,
    integration: str,
    batch: AlertBatch,
    event: AlertEvent,
    group_key: str | None,
    now: datetime,
) -> NewIncident:
    service = route(settings, integration, event)
    progress = start(settings, service, Subject.of_event(event, integration), now)
    return NewIncident(
        {
            "title": event.title,
            "description": event.description,
            "severity": event.severity.value,
            "status": Status.TRIGGERED.value,
            "service": service,
            "integration": integration,
            "group_key": batch.group_key,
            "open_key": group_key or f"{integration}{_SEP}{_SEP}{event.dedup_key}",
            "created_at": now,
            "updated_at": now,
            **progress.values(),
            "policy": progress.policy,
            "alert_count": 1,
            "labels": dict(event.labels),
        }
    )


def _opened_view(incident: NewIncident, work: Work) -> Incident:
    """The new incident as a notice shows it, with its first alerts."""
    v = incident.values
    rows = [row for ref, row in work.new_alerts if ref is incident][:CARD_ALERTS]
    alerts = tuple(repo.alert_view(a) for a in rows)
    return Incident(
        number=incident.number,
        title=v["title"],
        description=v["description"],
        severity=Severity(v["severity"]),
        status=Status.TRIGGERED,
        service=v["service"],
        integration=v["integration"],
        created_at=v["created_at"],
        updated_at=v["updated_at"],
        assignees=tuple(v["assignees"]),
        escalation_step=v["escalation_step"],
        escalation_round=v["escalation_round"],
        escalate_at=v["escalate_at"],
        policy=v["policy"],
        level_started_at=v["level_started_at"],
        alert_count=v["alert_count"],
        labels=v["labels"],
        alerts=alerts,
        # As the timeline will read once committed, so a posted card matches its incident.
        timeline=(
            TimelineEntry(
                at=v["created_at"],
                kind="triggered",
                actor=None,
                source=v["integration"],
                data={"assignees": v["assignees"]},
            ),
        ),
    )


def _record(
    settings: Settings,
    incident: Incident,
    kind: str,
    source: str,
    data: dict[str, Any],
    now: datetime,
    work: Work,
    audience: Audience,
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
    work.deliveries.extend(notices_for(settings, incident, entry, now, audience))
