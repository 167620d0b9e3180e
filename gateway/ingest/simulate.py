"""``ackgate simulate``: run ingest for real inside a transaction that is rolled back."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from gateway.clock import SystemClock
from gateway.config import Settings
from gateway.ingest.formats import parse
from gateway.ingest.service import IngestResult, Work, apply_batches
from storage import migrate
from storage.engine import Database


class _Rollback(Exception):
    """Raised to undo the simulated transaction."""


async def simulate(settings: Settings, integration: str, body: object) -> str:
    """What ``body`` would do if it arrived now: incidents, service, escalation, notices."""
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
                now = SystemClock().now()
                results, work = await apply_batches(conn, settings, [(integration, batch)], now)
        finally:
            await db.dispose()
    return _report(settings, integration, len(batch.events), batch.group_key, results[0], work)


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
    settings: Settings,
    integration: str,
    count: int,
    group_key: str | None,
    result: IngestResult,
    work: Work,
) -> str:
    lines = [
        f"integration {integration} ({settings.integrations[integration].format}): "
        f"{count} alert(s)" + (f", group {group_key}" if group_key else "")
    ]
    opened = {row["incident_id"] for row in work.timeline if row["kind"] == "triggered"}
    for row in work.timeline:
        n = row["incident_id"]
        if row["kind"] == "triggered":
            incident = next(i for i in work.new_incidents if i.number == n)
            service = work.services[n]
            lines.append(
                f'would open incident #{n} "{incident.values["title"]}" '
                f"[{incident.values['severity']}] -> service {service}"
            )
            lines.extend(_escalation_lines(settings, service))
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
    lines.append("notices:")
    if not work.deliveries:
        lines.append("  (none)")
    lines.extend(
        f"  {d['channel']} {d['destination'].get('url', '')} "
        f"{d['payload'].get('event', '')} (incident #{d['incident_id']})"
        for d in work.deliveries
    )
    return "\n".join(lines)


def _escalation_lines(settings: Settings, service: str) -> list[str]:
    svc = settings.services.get(service)
    if svc is None or svc.escalation is None:
        return ["  no escalation policy: nobody is paged"]
    lines = []
    elapsed = 0.0
    for i, level in enumerate(svc.escalation.levels):
        when = "at once" if i == 0 else f"after {elapsed:g} min without an ack"
        lines.append(f"  level {i + 1}: {', '.join(level.targets)} {when}")
        elapsed += level.wait_min
    return lines
