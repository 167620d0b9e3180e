"""Read-only questions adapters ask about incidents (they never touch storage themselves)."""

from __future__ import annotations

from gateway.domain import Incident, Status
from gateway.runtime import Runtime
from storage import repo

OPEN = [Status.TRIGGERED.value, Status.ACKNOWLEDGED.value]


async def incident(rt: Runtime, number: int) -> Incident | None:
    """One incident with its alerts and timeline."""
    async with rt.db.read() as conn:
        return await repo.load_incident(conn, number, details=True)


async def open_incidents(rt: Runtime, limit: int = 20) -> list[Incident]:
    """The newest open incidents."""
    async with rt.db.read() as conn:
        found, _ = await repo.list_incidents(conn, status=OPEN, limit=limit)
    return found
