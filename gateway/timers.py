"""Escalation and snooze timers: rows with a due time, claimed by a periodic job."""

from __future__ import annotations

import logging
from typing import Any

from gateway.domain import Incident, Status, TimelineEntry
from gateway.escalation import Fired, fire, progress_of, restart
from gateway.notices import load_audience, notices_for
from gateway.runtime import Runtime
from storage import repo

log = logging.getLogger(__name__)

BATCH = 100


async def run_due(rt: Runtime) -> int:
    """Advance every incident whose escalation or snooze is due; returns how many moved."""
    settings = rt.settings
    moved = 0
    wake = False
    async with rt.db.write() as conn:
        now = rt.clock.now()
        due = await repo.due_incidents(conn, now, BATCH)
        audience = await load_audience(
            conn, settings, [i.number for i in due], settings.members if due else ()
        )
        for incident in due:
            values, kind, data = _advance(rt, incident)
            await repo.update_incident(conn, incident.number, {"updated_at": now, **values})
            if not kind:
                continue
            await repo.add_timeline(
                conn,
                [
                    {
                        "incident_id": incident.number,
                        "at": now,
                        "kind": kind,
                        "actor": None,
                        "source": "escalation",
                        "data": data,
                    }
                ],
            )
            updated = await repo.load_incident(conn, incident.number)
            assert updated is not None
            entry = TimelineEntry(at=now, kind=kind, actor=None, source="escalation", data=data)
            notices = notices_for(settings, updated, entry, now, audience)
            await repo.add_deliveries(conn, notices)
            wake = wake or bool(notices)
            log.info("incident #%s %s", incident.number, kind.replace("_", " "))
            moved += 1
    if wake:
        rt.wake_outbox()
    return moved


def _advance(rt: Runtime, incident: Incident) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """The incident's new columns, the timeline kind (or "") and its data."""
    now = rt.clock.now()
    if incident.snoozed_until is not None and incident.snoozed_until <= now:
        progress = restart(rt.settings, progress_of(incident), now)
        values = {
            **progress.values(),
            "snoozed_until": None,
            "status": Status.TRIGGERED.value,
            "acked_by": None,
            "acked_at": None,
        }
        return values, "snooze_expired", {"assignees": list(progress.assignees), "step": 0}
    fired: Fired = fire(rt.settings, incident, now)
    progress = fired.progress
    data: dict[str, Any] = {}
    if fired.kind in ("paged", "escalated"):
        data = {"assignees": list(progress.assignees), "step": progress.step}
    elif fired.kind == "reminded":
        data = {"assignees": list(progress.assignees), "reminder": progress.reminders}
    return progress.values(), fired.kind, data
