"""``ackgate simulate``: run ingest for real inside a transaction that is rolled back, then walk
the escalation forward in time as if nobody acted, listing every notice it would send."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.clock import SystemClock
from gateway.config import Settings
from gateway.domain import Incident, TimelineEntry
from gateway.escalation import fire, thaw
from gateway.ingest.formats import parse
from gateway.ingest.service import IngestResult, Work, apply_batches
from gateway.matching import explain_route
from gateway.notices import PAGING_EVENTS, load_audience, notices_for
from gateway.routing import decide
from storage import migrate, repo
from storage.engine import Database

# A policy that loops for ever still ends the listing.
MAX_STEPS = 200


@dataclass(frozen=True, slots=True)
class Horizon:
    """The simulated moment the alert arrives, and how far ahead notices are listed."""

    at: datetime
    until: timedelta = timedelta(hours=2)


async def simulate(
    settings: Settings, integration: str, body: object, horizon: Horizon | None = None
) -> str:
    """What ``body`` would do if it arrived at ``horizon.at``: route, policy, every notice."""
    horizon = horizon or Horizon(SystemClock().now())
    integ = settings.integrations[integration]
    batch = parse(integ.format, body, integ)
    with tempfile.TemporaryDirectory(prefix="ackgate-sim-") as scratch:
        url = settings.database.url
        sqlite_file = Path(url.split("///", 1)[-1])
        # A one-shot CLI stat, not a server path: blocking here costs nothing.
        if url.startswith("sqlite") and not sqlite_file.exists():  # noqa: ASYNC240
            url = ""  # nothing stored yet: simulate against an empty scratch database
        db = await _database(url, settings.database.schema_name, Path(scratch))
        try:
            async with db.dry_run() as conn:
                now = horizon.at
                results, work = await apply_batches(conn, settings, [(integration, batch)], now)
                lines = _report(settings, integration, batch, results[0], work)
                for new in work.new_incidents:
                    incident = await repo.load_incident(conn, new.number, details=True)
                    assert incident is not None
                    lines.extend(await _walk(conn, settings, incident, work, horizon))
        finally:
            await db.dispose()
    return "\n".join(lines)


async def _database(url: str, schema: str | None, scratch: Path) -> Database:
    """The live database when it answers; otherwise a scratch database with the schema."""
    scratch_url = f"sqlite+aiosqlite:///{scratch / 'simulate.db'}"
    if not url:
        await migrate.upgrade(scratch_url)
        return Database(scratch_url)
    db = Database(url, schema=schema)
    try:
        await db.ping()
    except (OSError, SQLAlchemyError):
        await db.dispose()
        await migrate.upgrade(scratch_url)
        return Database(scratch_url)
    return db


def _report(
    settings: Settings, integration: str, batch: Any, result: IngestResult, work: Work
) -> list[str]:
    lines = [
        f"integration {integration} ({settings.integrations[integration].format}): "
        f"{len(batch.events)} alert(s)" + (f", group {batch.group_key}" if batch.group_key else "")
    ]
    opened = {row["incident_id"] for row in work.timeline if row["kind"] == "triggered"}
    routed = False
    for row in work.timeline:
        n = row["incident_id"]
        if row["kind"] == "triggered":
            incident = next(i for i in work.new_incidents if i.number == n)
            if not routed and batch.events:
                decision = decide(settings, integration, batch.events[0])
                lines.append("route:")
                lines.extend(
                    f"  {line}" for line in explain_route(decision, settings.routing.rules)
                )
                routed = True
            lines.append(
                f'would open incident #{n} "{incident.values["title"]}" '
                f"[{incident.values['severity']}] -> service {work.services[n]}"
            )
        elif row["kind"] == "closed":
            lines.append(f"would close incident #{n}: all its alerts resolved")
        elif row["kind"] == "acknowledged":
            lines.append(f"would acknowledge incident #{n} for {integration}")
    lines.extend(
        f"would update incident #{n}: alerts seen again or resolved"
        for n in result.updated
        if n not in result.closed and n not in opened
    )
    if result.ignored:
        lines.append(f"{result.ignored} event(s) ignored: no open alert with that key")
    return lines


async def _walk(
    conn: AsyncConnection, settings: Settings, incident: Incident, work: Work, horizon: Horizon
) -> list[str]:
    """The incident's notices as time passes and nobody acts, up to the horizon."""
    start = horizon.at
    policy = thaw(incident.policy)
    lines = [f"incident #{incident.number}:"]
    if policy is None:
        lines.append("  no escalation policy matched: nobody is paged")
    else:
        svc = settings.services[incident.service]
        key = next(
            (
                k
                for k, p in svc.escalation_policies()
                if p.model_dump(mode="json") == incident.policy
            ),
            "?",
        )
        name = f' "{policy.name}"' if policy.name else ""
        lines.append(f"  policy services.{incident.service}.{key}{name}")
    audience = await load_audience(conn, settings, [incident.number], settings.members)
    rows = [d for d in work.deliveries if d["incident_id"] == incident.number]
    lines.extend(_notices(start, "triggered", incident, rows))
    steps = 0
    while incident.escalate_at is not None and incident.escalate_at <= start + horizon.until:
        steps += 1
        if steps > MAX_STEPS:
            lines.append(f"  ... more than {MAX_STEPS} steps; stopping here")
            break
        at = incident.escalate_at
        fired = fire(settings, incident, at)
        values = fired.progress.values()
        incident = replace(
            incident,
            escalation_step=values["escalation_step"],
            escalation_round=values["escalation_round"],
            level_started_at=values["level_started_at"],
            reminders=values["reminders"],
            escalate_at=values["escalate_at"],
            assignees=tuple(values["assignees"]),
            updated_at=at,
        )
        if not fired.kind:
            continue
        entry = TimelineEntry(at=at, kind=fired.kind, actor=None, source="escalation")
        rows = notices_for(settings, incident, entry, at, audience)
        lines.extend(_notices(start, fired.kind, incident, rows))
    if incident.escalate_at is not None:
        lines.append(f"  ... and more after {_offset(horizon.until)}")
    return lines


_KIND_LINES = {
    "triggered": "opened",
    "paged": "the delay is over",
    "escalated": "escalates to level {level}",
    "reminded": "reminds level {level} (reminder {reminders})",
    "escalation_exhausted": "the last level is done: nobody more is paged",
}


def _notices(
    start: datetime, kind: str, incident: Incident, rows: list[dict[str, Any]]
) -> list[str]:
    at = incident.updated_at if kind != "triggered" else start
    what = _KIND_LINES.get(kind, kind).format(
        level=incident.escalation_step + 1, reminders=incident.reminders
    )
    paged = ", ".join(incident.assignees) if kind in PAGING_EVENTS else ""
    lines = [f"  {_offset(at - start):>7}  {what}" + (f": {paged}" if paged else "")]
    reached: set[str] = set()
    for row in sorted(rows, key=lambda r: r["due_at"]):
        dest, payload = row["destination"], row["payload"]
        when = _offset(row["due_at"] - start)
        if "dm" in dest:
            reached.add(dest["member"])
            lines.append(f"  {when:>7}    {row['channel']} DM to {dest['member']}")
        elif payload.get("op") == "post":
            lines.append(f"  {when:>7}    {row['channel']} card to {dest['chat']} ({dest['ref']})")
        elif row["channel"] == "webhook":
            lines.append(f"  {when:>7}    webhook {payload.get('event')} ({dest['ref']})")
    if kind in PAGING_EVENTS:
        lines.extend(
            f"  {'':>7}    ! {member} is not reached: no direct channel (link a chat account "
            "or set preferences)"
            for member in incident.assignees
            if member not in reached
        )
    return lines


def _offset(delta: timedelta) -> str:
    """``+0s``, ``+90s``, ``+5m``, ``+1h30m``."""
    seconds = int(delta.total_seconds())
    if seconds < 60 or (seconds < 120 and seconds % 60):
        return f"+{seconds}s"
    minutes = seconds // 60
    if minutes < 60:
        return f"+{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"+{hours}h{minutes:02d}m" if minutes else f"+{hours}h"
