"""Domain objects as JSON: the REST API's and the webhook events' one shape."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.domain import Incident, JSONObject, TimelineEntry

# What a card shows of an incident: its first alerts and its latest timeline entries.
CARD_ALERTS = 5
CARD_TIMELINE = 5


def iso(value: datetime | None) -> str | None:
    """RFC 3339 in UTC, or None."""
    return value.isoformat().replace("+00:00", "Z") if value else None


def entry_json(entry: TimelineEntry) -> JSONObject:
    """One timeline event."""
    return {
        "at": iso(entry.at),
        "kind": entry.kind,
        "actor": entry.actor,
        "source": entry.source,
        "data": dict(entry.data),
    }


def incident_json(incident: Incident, *, details: bool = False) -> JSONObject:
    """An incident; ``details`` adds its alerts and timeline."""
    doc: dict[str, Any] = {
        "number": incident.number,
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity.value,
        "status": incident.status.value,
        "service": incident.service,
        "integration": incident.integration,
        "created_at": iso(incident.created_at),
        "updated_at": iso(incident.updated_at),
        "acked_by": incident.acked_by,
        "acked_at": iso(incident.acked_at),
        "closed_by": incident.closed_by,
        "closed_at": iso(incident.closed_at),
        "assignees": list(incident.assignees),
        "escalation_step": incident.escalation_step,
        "escalate_at": iso(incident.escalate_at),
        "snoozed_until": iso(incident.snoozed_until),
        "alert_count": incident.alert_count,
        "labels": dict(incident.labels),
    }
    if details:
        doc["alerts"] = [
            {
                "dedup_key": a.dedup_key,
                "title": a.title,
                "description": a.description,
                "severity": a.severity.value,
                "status": a.status,
                "labels": dict(a.labels),
                "details": dict(a.details),
                "starts_at": iso(a.starts_at),
                "ends_at": iso(a.ends_at),
                "source_url": a.source_url,
                "count": a.count,
                "last_seen": iso(a.last_seen),
            }
            for a in incident.alerts
        ]
        doc["timeline"] = [entry_json(e) for e in incident.timeline]
    return doc


def card_json(incident: Incident) -> JSONObject:
    """The incident as a card needs it: a few alerts and the latest timeline entries."""
    doc = incident_json(incident, details=True)
    doc["alerts"] = doc["alerts"][:CARD_ALERTS]
    doc["timeline"] = doc["timeline"][-CARD_TIMELINE:]
    return doc
