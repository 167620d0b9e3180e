"""Escalation and snooze timers: rows with a due time, claimed by a periodic job."""

from __future__ import annotations

import logging
from typing import Any

from gateway.domain import Status, TimelineEntry
from gateway.escalation import first_step, next_step
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
            snooze_over = incident.status is Status.ACKNOWLEDGED
            step = (
                first_step(settings, incident.service, now)
                if snooze_over
                else next_step(
                    settings,
                    incident.service,
                    incident.escalation_step,
                    incident.escalation_round,
                    now,
                )
            )
            values: dict[str, Any] = {"updated_at": now, "snoozed_until": None}
            if snooze_over:
                values.update(status=Status.TRIGGERED.value, acked_by=None, acked_at=None)
            if step is None:
                values["escalate_at"] = None
                kind, data = "escalation_exhausted", {}
            else:
                values.update(
                    assignees=list(step.assignees),
                    escalation_step=step.step,
                    escalation_round=step.round,
                    escalate_at=step.escalate_at,
                )
                kind = "snooze_expired" if snooze_over else "escalated"
                data = {"assignees": list(step.assignees), "step": step.step}
            await repo.update_incident(conn, incident.number, values)
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
