"""Which notices an incident event writes to the outbox, in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from gateway.config import Settings
from gateway.domain import Incident, TimelineEntry
from gateway.wire import entry_json, incident_json


def notices_for(
    settings: Settings, incident: Incident, entry: TimelineEntry, now: datetime
) -> list[dict[str, Any]]:
    """Delivery rows for every destination of the incident's service that wants this event."""
    service = settings.services.get(incident.service)
    if service is None:
        return []
    rows: list[dict[str, Any]] = []
    payload: dict[str, Any] | None = None
    for index, dest in enumerate(service.notify):
        if dest.severities is not None and incident.severity not in dest.severities:
            continue
        if payload is None:
            payload = {
                "event_id": uuid.uuid4().hex,
                "event": f"incident.{entry.kind}",
                "incident": incident_json(incident),
                "entry": entry_json(entry),
                "url": f"{settings.server.base_url}/incidents/{incident.number}",
            }
        rows.append(
            {
                "incident_id": incident.number,
                "channel": dest.kind,
                "destination": {
                    "url": str(dest.url),
                    "ref": f"services.{incident.service}.notify[{index}]",
                },
                "payload": payload,
                "state": "pending",
                "attempts": 0,
                "due_at": now,
                "created_at": now,
            }
        )
    return rows
