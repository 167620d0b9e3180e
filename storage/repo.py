"""Queries that return domain objects; the only place outside migrations that knows the schema."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain import AlertView, Incident, Severity, Status, TimelineEntry
from storage import tables as t

Values = dict[str, Any]


def _incident(
    row: RowMapping, alerts: Sequence[AlertView] = (), timeline: Sequence[TimelineEntry] = ()
) -> Incident:
    return Incident(
        number=row["id"],
        title=row["title"],
        description=row["description"],
        severity=Severity(row["severity"]),
        status=Status(row["status"]),
        service=row["service"],
        integration=row["integration"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        acked_by=row["acked_by"],
        acked_at=row["acked_at"],
        closed_by=row["closed_by"],
        closed_at=row["closed_at"],
        assignees=tuple(row["assignees"] or ()),
        escalation_step=row["escalation_step"],
        escalation_round=row["escalation_round"],
        escalate_at=row["escalate_at"],
        snoozed_until=row["snoozed_until"],
        policy=row["policy"],
        level_started_at=row["level_started_at"],
        reminders=row["reminders"],
        alert_count=row["alert_count"],
        labels=dict(row["labels"] or {}),
        alerts=tuple(alerts),
        timeline=tuple(timeline),
    )


def is_postgres(conn: AsyncConnection) -> bool:
    """Whether row locks and advisory locks are available."""
    return conn.dialect.name == "postgresql"


async def lock_keys(conn: AsyncConnection, keys: Iterable[str]) -> None:
    """Serialise writers that touch the same dedup/group keys (PostgreSQL only).

    SQLite already has one writer at a time.
    """
    ordered = sorted(set(keys))
    if not ordered or not is_postgres(conn):
        return
    await conn.execute(
        sa.text(
            "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
            "FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k"
        ),
        {"keys": ordered},
    )


async def load_incident(
    conn: AsyncConnection, number: int, *, lock: bool = False, details: bool = False
) -> Incident | None:
    """One incident; ``lock`` takes its row lock (PostgreSQL), ``details`` adds alerts/timeline."""
    query = sa.select(t.incidents).where(t.incidents.c.id == number)
    if lock and is_postgres(conn):
        query = query.with_for_update()
    row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    if not details:
        return _incident(row)
    alert_rows = (
        await conn.execute(
            sa.select(t.alerts).where(t.alerts.c.incident_id == number).order_by(t.alerts.c.id)
        )
    ).mappings()
    alerts = [alert_view(a) for a in alert_rows]
    timeline = await load_timeline(conn, number)
    return _incident(row, alerts, timeline)


async def load_incidents(
    conn: AsyncConnection, numbers: Sequence[int], *, lock: bool = False
) -> dict[int, Incident]:
    """Several incidents by number; ``lock`` takes their row locks in number order (PostgreSQL)."""
    if not numbers:
        return {}
    query = sa.select(t.incidents).where(t.incidents.c.id.in_(numbers)).order_by(t.incidents.c.id)
    if lock and is_postgres(conn):
        query = query.with_for_update()
    return {r["id"]: _incident(r) for r in (await conn.execute(query)).mappings()}


_SAVE_INCIDENT = (
    t.incidents.update()
    .where(t.incidents.c.id == sa.bindparam("b_id"))
    .values(
        {
            name: sa.bindparam(f"b_{name}")
            for name in (
                "status",
                "severity",
                "acked_by",
                "acked_at",
                "closed_by",
                "closed_at",
                "assignees",
                "escalation_step",
                "escalation_round",
                "escalate_at",
                "snoozed_until",
                "level_started_at",
                "reminders",
                "updated_at",
            )
        }
    )
)


async def save_incidents(conn: AsyncConnection, incidents: Sequence[Incident]) -> None:
    """Write back the state people change (status, people, timers, severity) in one statement."""
    if not incidents:
        return
    await conn.execute(
        _SAVE_INCIDENT,
        [
            {
                "b_id": i.number,
                "b_status": i.status.value,
                "b_severity": i.severity.value,
                "b_acked_by": i.acked_by,
                "b_acked_at": i.acked_at,
                "b_closed_by": i.closed_by,
                "b_closed_at": i.closed_at,
                "b_assignees": list(i.assignees),
                "b_escalation_step": i.escalation_step,
                "b_escalation_round": i.escalation_round,
                "b_escalate_at": i.escalate_at,
                "b_snoozed_until": i.snoozed_until,
                "b_level_started_at": i.level_started_at,
                "b_reminders": i.reminders,
                "b_updated_at": i.updated_at,
            }
            for i in incidents
        ],
    )


async def release_open_keys(conn: AsyncConnection, numbers: Sequence[int]) -> None:
    """Closed incidents take no more alerts: new firings of their keys open new incidents."""
    await conn.execute(
        t.incidents.update().where(t.incidents.c.id.in_(numbers)).values(open_key=None)
    )
    await close_alerts(conn, numbers)


async def members_for_identities(
    conn: AsyncConnection, accounts: Sequence[tuple[str | None, str, str | None]]
) -> dict[tuple[str, str, str], str]:
    """Members linked to chat accounts ``(platform, workspace, platform_user_id)``."""
    wanted = {(p, w, u) for p, w, u in accounts if p and u}
    if not wanted:
        return {}
    i = t.identities.c
    rows = await conn.execute(
        sa.select(i.platform, i.workspace, i.platform_user_id, i.member).where(
            i.platform_user_id.in_(sorted({u for _, _, u in wanted}))
        )
    )
    return {
        (r.platform, r.workspace, r.platform_user_id): r.member
        for r in rows
        if (r.platform, r.workspace, r.platform_user_id) in wanted
    }


async def processed_outcomes(
    conn: AsyncConnection, callbacks: Sequence[tuple[str | None, str | None]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """Outcomes recorded for platform callbacks already handled."""
    wanted = {(p, c) for p, c in callbacks if p and c}
    if not wanted:
        return {}
    p = t.processed_callbacks.c
    rows = await conn.execute(
        sa.select(p.platform, p.callback_id, p.outcome).where(
            p.callback_id.in_(sorted({c for _, c in wanted}))
        )
    )
    return {
        (r.platform, r.callback_id): r.outcome
        for r in rows
        if (r.platform, r.callback_id) in wanted
    }


async def record_processed(conn: AsyncConnection, rows: Sequence[Values]) -> None:
    """Remember callbacks' outcomes so a platform retry gets the same answer."""
    if rows:
        await conn.execute(t.processed_callbacks.insert(), list(rows))


def alert_view(row: Mapping[str, Any] | RowMapping) -> AlertView:
    """An alert row (as stored, or about to be) as the domain shows it."""
    return AlertView(
        dedup_key=row["dedup_key"],
        title=row["title"],
        description=row["description"],
        severity=Severity(row["severity"]),
        status=row["status"],
        labels=row["labels"] or {},
        details=row["details"] or {},
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        source_url=row["source_url"],
        count=row["count"],
        last_seen=row["last_seen"],
    )


async def load_timeline(conn: AsyncConnection, number: int) -> list[TimelineEntry]:
    """An incident's timeline, oldest first."""
    rows = (
        await conn.execute(
            sa.select(t.timeline)
            .where(t.timeline.c.incident_id == number)
            .order_by(t.timeline.c.at, t.timeline.c.id)
        )
    ).mappings()
    return [
        TimelineEntry(
            at=r["at"], kind=r["kind"], actor=r["actor"], source=r["source"], data=r["data"] or {}
        )
        for r in rows
    ]


async def timelines_for(
    conn: AsyncConnection, numbers: Sequence[int], kinds: Iterable[str]
) -> dict[int, list[TimelineEntry]]:
    """Several incidents' events of ``kinds``, oldest first, in one query."""
    if not numbers:
        return {}
    rows = (
        await conn.execute(
            sa.select(t.timeline)
            .where(t.timeline.c.incident_id.in_(numbers), t.timeline.c.kind.in_(sorted(kinds)))
            .order_by(t.timeline.c.at, t.timeline.c.id)
        )
    ).mappings()
    found: dict[int, list[TimelineEntry]] = {}
    for r in rows:
        found.setdefault(r["incident_id"], []).append(
            TimelineEntry(
                at=r["at"],
                kind=r["kind"],
                actor=r["actor"],
                source=r["source"],
                data=r["data"] or {},
            )
        )
    return found


async def list_incidents(
    conn: AsyncConnection,
    *,
    status: Sequence[str] = (),
    service: str | None = None,
    severity: Sequence[str] = (),
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Incident], int]:
    """A page of incidents, newest first, and how many match in all."""
    where: list[sa.ColumnElement[bool]] = []
    if status:
        where.append(t.incidents.c.status.in_(status))
    if service:
        where.append(t.incidents.c.service == service)
    if severity:
        where.append(t.incidents.c.severity.in_(severity))
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(t.incidents).where(*where))
    ).scalar_one()
    rows = (
        await conn.execute(
            sa.select(t.incidents)
            .where(*where)
            .order_by(t.incidents.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).mappings()
    return [_incident(r) for r in rows], int(total)


async def update_incident(conn: AsyncConnection, number: int, values: Values) -> None:
    """Change some of an incident's columns."""
    await conn.execute(t.incidents.update().where(t.incidents.c.id == number).values(**values))


@dataclass(frozen=True, slots=True)
class OpenAlert:
    """An alert whose incident is still open, found by its dedup key."""

    id: int
    incident_id: int
    dedup_key: str
    status: str
    severity: str


_FIND_OPEN_ALERTS = sa.select(
    t.alerts.c.id,
    t.alerts.c.incident_id,
    t.alerts.c.dedup_key,
    t.alerts.c.status,
    t.alerts.c.severity,
    t.alerts.c.open_key,
).where(t.alerts.c.open_key.in_(sa.bindparam("keys", expanding=True)))

_FIND_OPEN_INCIDENTS = sa.select(t.incidents.c.open_key, t.incidents.c.id).where(
    t.incidents.c.open_key.in_(sa.bindparam("keys", expanding=True))
)

_INSERT_INCIDENTS = t.incidents.insert().returning(t.incidents.c.id, sort_by_parameter_order=True)


async def find_open_alerts(conn: AsyncConnection, open_keys: Sequence[str]) -> dict[str, OpenAlert]:
    """Open alerts by their open key."""
    if not open_keys:
        return {}
    rows = await conn.execute(_FIND_OPEN_ALERTS, {"keys": list(open_keys)})
    return {
        r.open_key: OpenAlert(r.id, r.incident_id, r.dedup_key, r.status, r.severity) for r in rows
    }


async def find_open_incidents(conn: AsyncConnection, open_keys: Sequence[str]) -> dict[str, int]:
    """Open incidents by the group key they hold."""
    if not open_keys:
        return {}
    rows = await conn.execute(_FIND_OPEN_INCIDENTS, {"keys": list(open_keys)})
    return {r.open_key: r.id for r in rows}


async def insert_incidents(conn: AsyncConnection, rows: Sequence[Values]) -> list[int]:
    """Create incidents in one statement; returns their numbers in the order given."""
    if not rows:
        return []
    result = await conn.execute(_INSERT_INCIDENTS, list(rows))
    return [int(r[0]) for r in result]


async def close_incidents(
    conn: AsyncConnection, numbers: Sequence[int], now: datetime
) -> list[Incident]:
    """Close every incident of ``numbers`` not closed yet (their alerts stop deduplicating)."""
    if not numbers:
        return []
    c = t.incidents.c
    rows = await conn.execute(
        t.incidents.update()
        .where(c.id.in_(numbers), c.status != Status.CLOSED.value)
        .values(
            status=Status.CLOSED.value,
            closed_by=None,
            closed_at=now,
            updated_at=now,
            open_key=None,
            escalate_at=None,
            snoozed_until=None,
        )
        .returning(*t.incidents.c)
    )
    closed = [_incident(r) for r in rows.mappings()]
    if closed:
        await close_alerts(conn, [i.number for i in closed])
    return sorted(closed, key=lambda i: i.number)


async def acknowledge_incidents(
    conn: AsyncConnection, numbers: Sequence[int], now: datetime, by: dict[int, str]
) -> list[Incident]:
    """Acknowledge those of ``numbers`` still triggered, each by the name in ``by``."""
    acked: list[Incident] = []
    c = t.incidents.c
    for number in numbers:
        rows = await conn.execute(
            t.incidents.update()
            .where(c.id == number, c.status == Status.TRIGGERED.value)
            .values(
                status=Status.ACKNOWLEDGED.value,
                acked_by=by[number],
                acked_at=now,
                updated_at=now,
                escalate_at=None,
            )
            .returning(*t.incidents.c)
        )
        acked.extend(_incident(r) for r in rows.mappings())
    return acked


_INSERT_ALERTS = t.alerts.insert()


async def insert_alerts(conn: AsyncConnection, rows: Sequence[Values]) -> None:
    """Add alerts in one statement."""
    if rows:
        await conn.execute(_INSERT_ALERTS, list(rows))


async def refresh_alerts(conn: AsyncConnection, rows: Sequence[Values]) -> None:
    """Update alerts seen again (``id`` plus new status/last_seen/ends_at/count increment)."""
    if not rows:
        return
    a = t.alerts.c
    stmt = (
        t.alerts.update()
        .where(a.id == sa.bindparam("b_id"))
        .values(
            status=sa.bindparam("b_status"),
            last_seen=sa.bindparam("b_last_seen"),
            ends_at=sa.bindparam("b_ends_at"),
            count=a.count + sa.bindparam("b_inc"),
        )
    )
    await conn.execute(stmt, [{f"b_{k}": v for k, v in r.items()} for r in rows])


async def firing_counts(conn: AsyncConnection, incident_ids: Sequence[int]) -> dict[int, int]:
    """How many alerts still fire, per incident."""
    if not incident_ids:
        return {}
    a = t.alerts.c
    rows = await conn.execute(
        sa.select(a.incident_id, sa.func.count())
        .where(a.incident_id.in_(incident_ids), a.status == "firing")
        .group_by(a.incident_id)
    )
    counts = dict.fromkeys(incident_ids, 0)
    counts.update({r[0]: int(r[1]) for r in rows})
    return counts


async def bump_incidents(
    conn: AsyncConnection, added: Mapping[int, tuple[int, Severity]], now: datetime
) -> None:
    """Count alerts added to existing incidents, raising severity when a worse one joins."""
    if not added:
        return
    c = t.incidents.c
    new: sa.BindParameter[str] = sa.bindparam("b_sev")
    worse = sa.or_(
        new == Severity.CRITICAL.value,
        sa.and_(new == Severity.WARNING.value, c.severity == Severity.INFO.value),
    )
    stmt = (
        t.incidents.update()
        .where(c.id == sa.bindparam("b_id"))
        .values(
            alert_count=c.alert_count + sa.bindparam("b_n"),
            severity=sa.case((worse, new), else_=c.severity),
            updated_at=now,
        )
    )
    await conn.execute(
        stmt, [{"b_id": i, "b_n": n, "b_sev": sev.value} for i, (n, sev) in added.items()]
    )


async def close_alerts(conn: AsyncConnection, incident_ids: Sequence[int]) -> None:
    """Incidents closed: their alerts stop deduplicating, so new firings open new incidents."""
    await conn.execute(
        t.alerts.update().where(t.alerts.c.incident_id.in_(incident_ids)).values(open_key=None)
    )


_INSERT_TIMELINE = t.timeline.insert()
_INSERT_DELIVERIES = t.deliveries.insert()


async def add_timeline(conn: AsyncConnection, rows: Sequence[Values]) -> None:
    """Append timeline events."""
    if rows:
        await conn.execute(_INSERT_TIMELINE, list(rows))


async def add_deliveries(conn: AsyncConnection, rows: Sequence[Values]) -> None:
    """Write notices to the outbox."""
    if rows:
        await conn.execute(_INSERT_DELIVERIES, list(rows))


async def sync_members(
    conn: AsyncConnection, members: Sequence[Values], identities: Sequence[Values], now: datetime
) -> None:
    """Make the members and config-made identity links match the configuration."""
    names = [m["name"] for m in members]
    existing = set((await conn.execute(sa.select(t.members.c.name))).scalars())
    for m in members:
        if m["name"] in existing:
            await conn.execute(t.members.update().where(t.members.c.name == m["name"]).values(**m))
        else:
            await conn.execute(t.members.insert().values(**m))
    i = t.identities.c
    await conn.execute(t.identities.delete().where(i.origin == "config"))
    await conn.execute(t.identities.delete().where(i.member.not_in(names)))
    if identities:
        # The configuration wins over an account linked by email or imported earlier.
        accounts = [(r["platform"], r["workspace"], r["platform_user_id"]) for r in identities]
        await conn.execute(
            t.identities.delete().where(
                sa.tuple_(i.platform, i.workspace, i.platform_user_id).in_(accounts)
            )
        )
        rows = [{**i, "origin": "config", "created_at": now} for i in identities]
        await conn.execute(t.identities.insert(), rows)


async def due_incidents(conn: AsyncConnection, now: datetime, limit: int) -> list[Incident]:
    """Open incidents whose escalation timer is due, or whose snooze ran out.

    Locked with SKIP LOCKED on PostgreSQL so two replicas never take the same one.
    """
    c = t.incidents.c
    # Two index range scans, not one scan of every incident ever opened: this runs every
    # second inside the writer's transaction.
    due = sa.union(
        sa.select(c.id).where(c.escalate_at <= now),
        sa.select(c.id).where(c.snoozed_until <= now),
    ).subquery()
    query = (
        sa.select(t.incidents)
        .where(
            c.id.in_(sa.select(due.c.id)),
            c.status != Status.CLOSED.value,
            # Again on the row itself: on PostgreSQL a row another replica just advanced is
            # checked anew once its lock is free, and must then be passed over (the
            # subquery above still sees it due).
            sa.or_(c.escalate_at <= now, c.snoozed_until <= now),
        )
        .order_by(c.id)
        .limit(limit)
    )
    if is_postgres(conn):
        query = query.with_for_update(skip_locked=True)
    return [_incident(r) for r in (await conn.execute(query)).mappings()]


async def count_by_status(conn: AsyncConnection) -> dict[str, int]:
    """Incidents per status."""
    rows = await conn.execute(
        sa.select(t.incidents.c.status, sa.func.count()).group_by(t.incidents.c.status)
    )
    return {r[0]: int(r[1]) for r in rows}


async def deliveries_for(conn: AsyncConnection, incident_id: int) -> list[Values]:
    """Every delivery written for an incident, oldest first."""
    rows = await conn.execute(
        sa.select(t.deliveries)
        .where(t.deliveries.c.incident_id == incident_id)
        .order_by(t.deliveries.c.id)
    )
    return [dict(r) for r in rows.mappings()]


_D = t.deliveries.c


async def get_delivery(conn: AsyncConnection, delivery_id: int) -> Values | None:
    """One delivery row."""
    found = (await conn.execute(sa.select(t.deliveries).where(_D.id == delivery_id))).first()
    return dict(found._mapping) if found is not None else None


async def mark_not_reached(conn: AsyncConnection, delivery_id: int, reason: str) -> None:
    """The platform took the delivery, but it never reached the person."""
    await conn.execute(
        t.deliveries.update()
        .where(_D.id == delivery_id)
        .values(state="not_reached", last_error=reason[:1000])
    )


async def last_incident_sent_to(conn: AsyncConnection, channel: str, to: str) -> int | None:
    """The incident of the newest sent delivery on ``channel`` to ``to`` (a phone, an address)."""
    found = await conn.execute(
        sa.select(_D.incident_id)
        .where(_D.channel == channel, _D.state == "sent", _D.destination["to"].as_string() == to)
        .order_by(_D.id.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()


async def claim_deliveries(
    conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int
) -> list[Values]:
    """Take up to ``limit`` due deliveries (or ones whose claim expired) for one worker.

    SKIP LOCKED on PostgreSQL: two replicas claiming at once get disjoint rows.
    """
    due = sa.or_(
        sa.and_(_D.state == "pending", _D.due_at <= now),
        # A worker that claimed these crashed or hung: its lease ran out.
        sa.and_(_D.state == "sending", _D.lease_until < now),
    )
    pick = sa.select(_D.id, _D.page_while).where(due).order_by(_D.due_at, _D.id).limit(limit)
    if is_postgres(conn):
        pick = pick.with_for_update(skip_locked=True, of=t.deliveries)
    picked = (await conn.execute(pick)).all()
    if not picked:
        return []
    ids = await _drop_superseded(conn, [r.id for r in picked])
    conditional = {r.id for r in picked if r.page_while is not None}
    if conditional:
        ids = await _drop_moot(conn, ids, conditional)
    if not ids:
        return []
    rows = await conn.execute(
        t.deliveries.update()
        .where(_D.id.in_(ids))
        .values(state="sending", lease_until=lease_until, attempts=_D.attempts + 1)
        .returning(_D.id, _D.incident_id, _D.channel, _D.destination, _D.payload, _D.attempts)
    )
    order = {delivery_id: i for i, delivery_id in enumerate(ids)}
    return sorted((dict(r) for r in rows.mappings()), key=lambda r: order[r["id"]])


async def _drop_superseded(conn: AsyncConnection, ids: list[int]) -> list[int]:
    """Updates with a newer update of the same card behind them are never sent.

    Sending them could only put an older state on the card (a retried old update landing
    after a newer one, or two landing in either order); they are marked ``superseded``.
    """
    claimed = await conn.execute(
        sa.select(_D.id, _D.target).where(_D.id.in_(ids), _D.target.is_not(None))
    )
    targets = {r.id: r.target for r in claimed}
    if not targets:
        return ids
    newest: dict[str, int] = dict(
        (
            await conn.execute(
                sa.select(_D.target, sa.func.max(_D.id))
                .where(_D.target.in_(set(targets.values())))
                .group_by(_D.target)
            )
        ).all()
    )
    stale = [i for i, target in targets.items() if i < newest[target]]
    if stale:
        await conn.execute(
            t.deliveries.update()
            .where(_D.id.in_(stale))
            .values(state="superseded", lease_until=None)
        )
    return [i for i in ids if i not in stale]


async def _drop_moot(conn: AsyncConnection, ids: list[int], conditional: set[int]) -> list[int]:
    """Delayed pages whose condition no longer holds are never sent (state ``moot``).

    ``page_while = "unacked"``: only while the incident is triggered; ``"open"``: until closed.
    """
    i = t.incidents.c
    moot = list(
        (
            await conn.execute(
                sa.select(_D.id)
                .join(t.incidents, i.id == _D.incident_id)
                .where(
                    _D.id.in_([d for d in ids if d in conditional]),
                    sa.or_(
                        sa.and_(_D.page_while == "unacked", i.status != Status.TRIGGERED.value),
                        sa.and_(_D.page_while == "open", i.status == Status.CLOSED.value),
                    ),
                )
            )
        ).scalars()
    )
    if moot:
        await conn.execute(
            t.deliveries.update().where(_D.id.in_(moot)).values(state="moot", lease_until=None)
        )
    return [d for d in ids if d not in moot]


async def add_attempts(conn: AsyncConnection, rows: Sequence[Values]) -> None:
    """Record send attempts."""
    if rows:
        await conn.execute(t.delivery_attempts.insert(), list(rows))


async def release_delivery(
    conn: AsyncConnection, delivery_id: int, attempt: int, due_at: datetime
) -> None:
    """Give a claimed delivery back unsent, its claim not counted as an attempt, due later."""
    await conn.execute(
        t.deliveries.update()
        .where(_D.id == delivery_id, _D.state == "sending", _D.attempts == attempt)
        .values(state="pending", lease_until=None, attempts=attempt - 1, due_at=due_at)
    )


async def settle_deliveries(
    conn: AsyncConnection, lease_until: datetime, results: Sequence[tuple[int, int, Values]]
) -> set[int]:
    """Record many sends' results (``(delivery id, attempt, column values)``) claimed under
    one lease, each only if that claim still stands; returns the ids recorded.

    Two statements per kind of result, however many there are: this transaction holds the
    SQLite writer that incoming clicks wait for.
    """
    if not results:
        return set()
    ids = [delivery_id for delivery_id, _, _ in results]
    mine = sa.select(_D.id, _D.attempts).where(
        _D.id.in_(ids), _D.state == "sending", _D.lease_until == lease_until
    )
    if is_postgres(conn):
        mine = mine.with_for_update()
    current = {r.id: r.attempts for r in await conn.execute(mine)}
    groups: dict[tuple[str, ...], list[Values]] = {}
    for delivery_id, attempt, values in results:
        if current.get(delivery_id) == attempt:
            keys = tuple(sorted(values))
            groups.setdefault(keys, []).append(
                {"b_id": delivery_id, **{f"b_{k}": v for k, v in values.items()}}
            )
    for keys, rows in groups.items():
        statement = (
            t.deliveries.update()
            .where(_D.id == sa.bindparam("b_id"))
            .values({k: sa.bindparam(f"b_{k}") for k in keys})
        )
        await conn.execute(statement, rows)
    return {row["b_id"] for rows in groups.values() for row in rows}


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a card of an incident sits in a chat."""

    platform: str
    chat_id: str
    message_id: str
    member: str | None = None


async def add_message_refs(conn: AsyncConnection, rows: Sequence[Values]) -> None:
    """Remember posted cards (``incident_id, platform, chat_id, message_id, delivery_id``)."""
    if rows:
        await conn.execute(t.message_refs.insert(), list(rows))


async def message_refs_for(
    conn: AsyncConnection, incident_ids: Sequence[int]
) -> dict[int, list[MessageRef]]:
    """Every card posted for each incident, oldest first."""
    if not incident_ids:
        return {}
    m = t.message_refs.c
    rows = await conn.execute(
        sa.select(m.incident_id, m.platform, m.chat_id, m.message_id, m.member)
        .where(m.incident_id.in_(incident_ids))
        .order_by(m.id)
    )
    found: dict[int, list[MessageRef]] = {}
    for r in rows:
        ref = MessageRef(r.platform, r.chat_id, r.message_id, r.member)
        found.setdefault(r.incident_id, []).append(ref)
    return found


async def accounts_for_members(
    conn: AsyncConnection, members: Sequence[str], platforms: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """Each member's chat accounts ``(platform, platform_user_id)`` on the given platforms."""
    if not members or not platforms:
        return {}
    i = t.identities.c
    rows = await conn.execute(
        sa.select(i.member, i.platform, i.platform_user_id)
        .where(i.member.in_(members), i.platform.in_(platforms))
        .order_by(i.id)
    )
    found: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        found.setdefault(r.member, []).append((r.platform, r.platform_user_id))
    return found


async def upsert_identity(
    conn: AsyncConnection,
    platform: str,
    workspace: str,
    platform_user_id: str,
    member: str,
    origin: str,
    now: datetime,
) -> str:
    """Link an account to ``member``, moving it if it was linked to someone else; returns
    ``added``, ``moved``, ``kept`` (already so) or ``config`` (the configuration decides)."""
    i = t.identities.c
    found = (
        await conn.execute(
            sa.select(i.id, i.member, i.origin).where(
                i.platform == platform,
                i.workspace == workspace,
                i.platform_user_id == platform_user_id,
            )
        )
    ).first()
    if found is None:
        await link_identity(conn, platform, workspace, platform_user_id, member, origin, now)
        return "added"
    if found.origin == "config":
        return "config" if found.member != member else "kept"
    if found.member == member:
        return "kept"
    await conn.execute(
        t.identities.update().where(i.id == found.id).values(member=member, origin=origin)
    )
    return "moved"


async def all_identities(conn: AsyncConnection) -> list[Values]:
    """Every linked account, by platform then member."""
    i = t.identities.c
    rows = await conn.execute(
        sa.select(i.platform, i.workspace, i.platform_user_id, i.member, i.origin).order_by(
            i.platform, i.member, i.platform_user_id
        )
    )
    return [dict(r) for r in rows.mappings()]


async def link_identity(
    conn: AsyncConnection,
    platform: str,
    workspace: str,
    platform_user_id: str,
    member: str,
    origin: str,
    now: datetime,
) -> None:
    """Link a chat account to a member (an automatic match, or the member's own request)."""
    await conn.execute(
        t.identities.insert().values(
            platform=platform,
            workspace=workspace,
            platform_user_id=platform_user_id,
            member=member,
            origin=origin,
            created_at=now,
        )
    )


async def put_link_code(
    conn: AsyncConnection,
    code: str,
    platform: str,
    workspace: str,
    platform_user_id: str,
    expires_at: datetime,
) -> None:
    """Give a chat account a fresh link code (its previous one, if any, stops working)."""
    c = t.link_codes.c
    await conn.execute(
        t.link_codes.delete().where(
            c.platform == platform,
            c.workspace == workspace,
            c.platform_user_id == platform_user_id,
        )
    )
    await conn.execute(
        t.link_codes.insert().values(
            code=code,
            platform=platform,
            workspace=workspace,
            platform_user_id=platform_user_id,
            expires_at=expires_at,
        )
    )


async def take_link_code(
    conn: AsyncConnection, code: str, now: datetime
) -> tuple[str, str, str] | None:
    """The account a code was given to, if it is valid now; the code is used up either way."""
    c = t.link_codes.c
    found = (await conn.execute(sa.select(t.link_codes).where(c.code == code))).first()
    await conn.execute(t.link_codes.delete().where(sa.or_(c.code == code, c.expires_at < now)))
    if found is None or found.expires_at < now:
        return None
    return found.platform, found.workspace, found.platform_user_id


@dataclass(slots=True)
class PaceWindow:
    """A capped destination's recent sends (epoch seconds) and its open digest card, if any."""

    sent: list[float] = field(default_factory=list)
    digest: dict[str, Any] | None = None
    stored: bool = False


async def load_paces(conn: AsyncConnection, keys: Sequence[str]) -> dict[str, PaceWindow]:
    """The windows of ``keys``; on PostgreSQL other replicas wait for them until commit."""
    await lock_keys(conn, [f"pace:{key}" for key in keys])
    rows = await conn.execute(sa.select(t.paces).where(t.paces.c.key.in_(keys)))
    return {
        row.key: PaceWindow(sent=list(row.sent or ()), digest=row.digest, stored=True)
        for row in rows
    }


async def save_paces(conn: AsyncConnection, windows: Mapping[str, PaceWindow]) -> None:
    """Write back windows read with ``load_paces`` in this same transaction."""
    new = [
        {"key": key, "sent": w.sent, "digest": w.digest}
        for key, w in windows.items()
        if not w.stored
    ]
    if new:
        await conn.execute(t.paces.insert(), new)
    old = [{"k": key, "sent": w.sent} for key, w in windows.items() if w.stored]
    if old:
        p = t.paces.c
        await conn.execute(
            t.paces.update().where(p.key == sa.bindparam("k")).values(sent=sa.bindparam("sent")),
            old,
        )


async def waiting_by_channel(conn: AsyncConnection, channels: Sequence[str]) -> dict[str, int]:
    """How many deliveries of each of ``channels`` are waiting, due now or held for later."""
    if not channels:
        return {}
    rows = await conn.execute(
        sa.select(_D.channel, sa.func.count())
        .where(_D.state == "pending", _D.channel.in_(channels))
        .group_by(_D.channel)
    )
    return {str(channel): int(n) for channel, n in rows.all()}


async def set_pace_digests(conn: AsyncConnection, digests: Mapping[str, dict[str, Any]]) -> None:
    """Remember the digest card each destination shows now, to add to it while it has room."""
    p = t.paces.c
    for key, digest in digests.items():
        await conn.execute(t.paces.update().where(p.key == key).values(digest=digest))
