"""Escalation policies under the injected clock: delay, loops, repeats, windows, conditions,
manual escalation, reopen, frozen policies, preferences and level chats."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from gateway.actions import perform
from gateway.clock import ManualClock
from gateway.config import Settings
from gateway.domain import (
    ActionRequest,
    AlertAction,
    AlertBatch,
    AlertEvent,
    Incident,
    Severity,
    Verb,
)
from gateway.errors import ActionRefused
from gateway.ingest.service import ingest
from gateway.oncall import OnCall, on_call_now
from gateway.runtime import Runtime
from gateway.timers import run_due
from storage import repo
from tests.support import make_settings, pg_schema, pg_url, running

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
SLACK = {"bot_token": "xoxb-test-token", "signing_secret": "test-signing-secret"}
MEMBERS = {
    "alice": {"identities": [{"platform": "slack", "user_id": "UALICE"}]},
    "bob": {"identities": [{"platform": "slack", "user_id": "UBOB"}]},
    "carol": {"identities": [{"platform": "slack", "user_id": "UCAROL"}]},
}


def settings_for(tmp_path: Path, service: dict[str, Any], **sections: Any) -> Settings:
    return make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        services={"default": service},
        members=sections.pop("members", MEMBERS),
        slack=SLACK,
        **sections,
    )


@asynccontextmanager
async def gateway(
    tmp_path: Path, service: dict[str, Any], **sections: Any
) -> AsyncIterator[tuple[Runtime, ManualClock]]:
    clock = ManualClock(START)
    async with running(settings_for(tmp_path, service, **sections), clock) as rt:
        yield rt, clock


def levels(*targets: str, **level: Any) -> list[dict[str, Any]]:
    return [{"targets": [t], "wait_min": 10, **level} for t in targets]


async def fire_alert(
    rt: Runtime, severity: Severity = Severity.CRITICAL, key: str = "k1", **labels: str
) -> int:
    event = AlertEvent(
        dedup_key=key,
        action=AlertAction.TRIGGER,
        title="HighErrorRate",
        severity=severity,
        labels=labels,
    )
    return (await ingest(rt, "prometheus", AlertBatch(events=(event,)))).opened[0]


async def incident(rt: Runtime, number: int) -> Incident:
    async with rt.db.read() as conn:
        found = await repo.load_incident(conn, number, details=True)
    assert found is not None
    return found


async def dms(rt: Runtime, number: int) -> list[tuple[str, str, datetime]]:
    """(member, payload event, due time) of every direct-message page, oldest first."""
    async with rt.db.read() as conn:
        rows = await repo.deliveries_for(conn, number)
    return [
        (r["destination"]["member"], r["payload"]["event"], r["due_at"])
        for r in rows
        if "dm" in r["destination"]
    ]


async def test_levels_escalate_then_repeat_then_stop(tmp_path: Path) -> None:
    policy = {"levels": levels("alice", "bob"), "repeat": 1}
    async with gateway(tmp_path, {"escalation": policy}) as (rt, clock):
        n = await fire_alert(rt)
        assert (await incident(rt, n)).assignees == ("alice",)
        walk = []
        for _ in range(5):
            clock.advance(minutes=10)
            await run_due(rt)
            walk.append((await incident(rt, n)).assignees)
        assert walk == [("bob",), ("alice",), ("bob",), ("bob",), ("bob",)]
        kinds = [e.kind for e in (await incident(rt, n)).timeline]
        assert kinds == ["triggered", "escalated", "escalated", "escalated", "escalation_exhausted"]
        assert [m for m, _, _ in await dms(rt, n)] == ["alice", "bob", "alice", "bob"]


async def test_delay_window_pages_nobody_if_closed_in_time(tmp_path: Path) -> None:
    policy = {"levels": levels("alice"), "delay_s": 120}
    async with gateway(tmp_path, {"escalation": policy}) as (rt, clock):
        flapping = await fire_alert(rt, key="flap")
        steady = await fire_alert(rt, key="steady")
        assert (await incident(rt, steady)).assignees == ()
        assert await dms(rt, steady) == []
        clock.advance(seconds=60)
        await perform(rt, ActionRequest(flapping, Verb.CLOSE, "api", member="bob"))
        clock.advance(seconds=60)
        await run_due(rt)
        assert await dms(rt, flapping) == []
        assert (await incident(rt, flapping)).timeline[-1].kind == "closed"
        assert (await incident(rt, steady)).assignees == ("alice",)
        assert [m for m, _, _ in await dms(rt, steady)] == ["alice"]
        assert (await incident(rt, steady)).timeline[-1].kind == "paged"


async def test_loop_reminds_then_escalates_and_ack_stops_reminders(tmp_path: Path) -> None:
    level = {"targets": ["alice"], "wait_min": 30, "loop_every_min": 5, "loop_times": 2}
    policy = {"levels": [level, {"targets": ["bob"]}]}
    async with gateway(tmp_path, {"escalation": policy}) as (rt, clock):
        n = await fire_alert(rt, key="a")
        m = await fire_alert(rt, key="b")
        clock.advance(minutes=5)
        await run_due(rt)
        await perform(rt, ActionRequest(m, Verb.ACK, "api", member="alice"))
        for minutes in (5, 5, 15):
            clock.advance(minutes=minutes)
            await run_due(rt)
        kinds = [e.kind for e in (await incident(rt, n)).timeline]
        assert kinds == ["triggered", "reminded", "reminded", "escalated"]
        times = [e.at - START for e in (await incident(rt, n)).timeline]
        assert times == [
            timedelta(0),
            timedelta(minutes=5),
            timedelta(minutes=10),
            timedelta(minutes=30),
        ]
        assert [(mem, ev) for mem, ev, _ in await dms(rt, n)] == [
            ("alice", "incident.triggered"),
            ("alice", "incident.reminded"),
            ("alice", "incident.reminded"),
            ("bob", "incident.escalated"),
        ]
        kinds = [e.kind for e in (await incident(rt, m)).timeline]
        assert kinds == ["triggered", "reminded", "acknowledged"]


async def test_not_closed_level_escalates_after_an_ack(tmp_path: Path) -> None:
    policy = {
        "levels": [
            {"targets": ["alice"], "wait_min": 10, "escalate_if": "open"},
            {"targets": ["bob"], "wait_min": 10},
        ]
    }
    async with gateway(tmp_path, {"escalation": policy}) as (rt, clock):
        n = await fire_alert(rt)
        await perform(rt, ActionRequest(n, Verb.ACK, "api", member="alice"))
        clock.advance(minutes=10)
        await run_due(rt)
        after = await incident(rt, n)
        assert after.assignees == ("bob",)
        assert after.status.value == "acknowledged"
        assert after.timeline[-1].kind == "escalated"
        # Level 2 waits for an ack, which the incident already has: it stops there.
        assert after.escalate_at is not None
        clock.advance(minutes=10)
        await run_due(rt)
        assert (await incident(rt, n)).assignees == ("bob",)
        assert (await incident(rt, n)).escalate_at is None


async def test_manual_escalate_reopen_and_assign(tmp_path: Path) -> None:
    policy = {"levels": levels("alice", "bob", "carol")}
    async with gateway(tmp_path, {"escalation": policy}) as (rt, clock):
        n = await fire_alert(rt)
        clock.advance(minutes=3)
        out = await perform(rt, ActionRequest(n, Verb.ESCALATE, "api", member="alice"))
        assert out.incident is not None
        assert out.incident.assignees == ("bob",)
        # The new level's clock starts at the manual escalation.
        assert out.incident.escalate_at == START + timedelta(minutes=13)
        await perform(rt, ActionRequest(n, Verb.CLOSE, "api", member="bob"))
        out = await perform(rt, ActionRequest(n, Verb.REOPEN, "api", member="bob"))
        assert out.incident is not None
        assert out.incident.assignees == ("alice",)
        out = await perform(
            rt, ActionRequest(n, Verb.ESCALATE, "api", args={"member": "carol"}, member="bob")
        )
        assert out.incident is not None
        assert out.incident.assignees == ("carol",)
        assert out.incident.escalate_at is None  # paged by hand: no more automatic steps
        assert [m for m, _, _ in await dms(rt, n)] == ["alice", "bob", "alice", "carol"]
        await perform(rt, ActionRequest(n, Verb.CLOSE, "api", member="alice"))
        with pytest.raises(ActionRefused):
            await perform(rt, ActionRequest(n, Verb.ESCALATE, "api", member="alice"))


async def test_policies_match_top_down_by_conditions_and_time_window(tmp_path: Path) -> None:
    office = {
        "timezone": "Europe/Berlin",
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "18:00",
    }
    service = {
        "policies": [
            {"name": "off", "enabled": False, "levels": levels("carol")},
            {"name": "dba", "labels": {"team": "dba"}, "levels": levels("bob")},
            {"name": "office", "windows": [office], "levels": levels("alice")},
            {"name": "nights", "severity": ["critical"], "levels": levels("carol")},
        ]
    }
    async with gateway(tmp_path, service) as (rt, clock):
        dba = await fire_alert(rt, key="1", team="dba")
        day = await fire_alert(rt, key="2")
        clock.advance(hours=8)  # 19:00 in Berlin
        night = await fire_alert(rt, key="3")
        quiet = await fire_alert(rt, Severity.INFO, key="4")
        picked = [(await incident(rt, n)) for n in (dba, day, night, quiet)]
        assert [(i.policy or {}).get("name") for i in picked] == ["dba", "office", "nights", None]
        assert [i.assignees for i in picked] == [("bob",), ("alice",), ("carol",), ()]


async def test_a_running_incident_keeps_the_policy_it_opened_with(tmp_path: Path) -> None:
    async with gateway(tmp_path, {"escalation": {"levels": levels("alice", "bob")}}) as (rt, clock):
        n = await fire_alert(rt)
        rt.settings = settings_for(tmp_path, {"escalation": {"levels": levels("carol")}})
        clock.advance(minutes=10)
        await run_due(rt)
        assert (await incident(rt, n)).assignees == ("bob",)
        m = await fire_alert(rt, key="new")
        assert (await incident(rt, m)).assignees == ("carol",)


async def test_groups_and_unified_channels(tmp_path: Path) -> None:
    policy = {"levels": [{"targets": ["group:dba", "alice"], "channels": ["slack"]}]}
    groups = {"dba": {"members": ["bob", "alice"]}}
    async with gateway(tmp_path, {"escalation": policy}, groups=groups) as (rt, _clock):
        n = await fire_alert(rt)
        assert (await incident(rt, n)).assignees == ("bob", "alice")
        assert sorted(m for m, _, _ in await dms(rt, n)) == ["alice", "bob"]


async def test_personal_preferences_delay_and_moot_pages(tmp_path: Path) -> None:
    members = {
        **MEMBERS,
        "alice": {
            **MEMBERS["alice"],
            "preferences": {"critical": [{"channel": "slack", "delay_min": 2}], "info": []},
        },
    }
    policy = {"levels": levels("alice")}
    async with gateway(tmp_path, {"escalation": policy}, members=members) as (rt, clock):
        acked = await fire_alert(rt, key="a")
        kept = await fire_alert(rt, key="b")
        assert [due - START for _, _, due in await dms(rt, kept)] == [timedelta(minutes=2)]
        await perform(rt, ActionRequest(acked, Verb.ACK, "api", member="bob"))
        clock.advance(minutes=2)
        async with rt.db.write() as conn:
            claimed = await repo.claim_deliveries(
                conn, clock.now(), clock.now() + timedelta(minutes=1), 100
            )
            states = {
                r["incident_id"]: r["state"]
                for n in (acked, kept)
                for r in await repo.deliveries_for(conn, n)
                if "dm" in r["destination"]
            }
        assert {r["incident_id"] for r in claimed if "dm" in r["destination"]} == {kept}
        assert states == {acked: "moot", kept: "sending"}
        # No preference for info: the service default (every linked chat) applies, at once.
        info = await fire_alert(rt, Severity.INFO, key="c")
        assert [due - clock.now() for _, _, due in await dms(rt, info)] == [timedelta(0)]


async def test_level_chats_get_the_card_when_their_level_starts(tmp_path: Path) -> None:
    policy = {"levels": [{"targets": ["alice"], "wait_min": 10}, {"chats": ["dba-room"]}]}
    destinations = {"dba-room": {"kind": "slack", "chat": "CDBA"}}
    async with gateway(tmp_path, {"escalation": policy}, destinations=destinations) as (
        rt,
        clock,
    ):
        n = await fire_alert(rt)
        chat_posts = await chat_cards(rt, n)
        assert chat_posts == []
        clock.advance(minutes=10)
        await run_due(rt)
        assert await chat_cards(rt, n) == ["CDBA"]
        assert (await incident(rt, n)).assignees == ()


async def chat_cards(rt: Runtime, number: int) -> list[str]:
    async with rt.db.read() as conn:
        rows = await repo.deliveries_for(conn, number)
    return [
        r["destination"]["chat"]
        for r in rows
        if r["payload"].get("op") == "post" and "chat" in r["destination"]
    ]


async def test_two_replicas_fire_every_step_once_on_postgres(tmp_path: Path) -> None:
    url = pg_url()
    if url is None:
        pytest.skip("ACKGATE_TEST_POSTGRES_URL not set: PostgreSQL tests need a server")
    count = 1000
    policy = {"levels": levels("alice", "bob")}
    async with pg_schema(url) as schema:
        settings = make_settings(
            url, schema, services={"default": {"escalation": policy}}, members=MEMBERS, slack=SLACK
        )
        clock = ManualClock(START)
        async with running(settings, clock) as one, running(settings, clock) as two:
            events = tuple(
                AlertEvent(f"k{i}", AlertAction.TRIGGER, "HighErrorRate", Severity.CRITICAL)
                for i in range(count)
            )
            opened = (await ingest(one, "prometheus", AlertBatch(events=events))).opened
            assert len(opened) == count
            for _ in range(2):  # level 2, then the end of the policy
                clock.advance(minutes=10)

                async def drain(rt: Runtime) -> int:
                    moved = 0
                    while step := await run_due(rt):
                        moved += step
                    return moved

                moved = await asyncio.gather(drain(one), drain(two))
                assert sum(moved) == count
            async with one.db.read() as conn:
                kinds = await conn.execute(
                    sa.text("SELECT kind, count(*) FROM timeline_events GROUP BY kind")
                )
                per_kind = dict(kinds.all())
                pages = await conn.execute(
                    sa.text(
                        "SELECT destination->>'member', count(*) FROM deliveries "
                        "WHERE destination->>'dm' IS NOT NULL GROUP BY 1"
                    )
                )
                per_member = dict(pages.all())
            assert per_kind == {
                "triggered": count,
                "escalated": count,
                "escalation_exhausted": count,
            }
            assert per_member == {"alice": count, "bob": count}


def test_who_is_on_call_now_per_schedule_and_service(tmp_path: Path) -> None:
    schedules = {
        "dba": {
            "timezone": "Europe/Berlin",
            "layers": [
                {"name": "w", "members": ["bob", "carol"], "shift_h": 168, "start": "2026-11-23"}
            ],
        }
    }
    office = {"timezone": "Europe/Berlin", "days": ["mon"], "start": "09:00", "end": "18:00"}
    service = {
        "policies": [
            {"name": "office", "windows": [office], "levels": [{"targets": ["schedule:dba"]}]},
            {"name": "after hours", "levels": [{"targets": ["group:all"]}]},
        ]
    }
    settings = settings_for(
        tmp_path, service, schedules=schedules, groups={"all": {"members": ["carol", "alice"]}}
    )
    assert on_call_now(settings, START) == [  # Monday 11:00 in Berlin
        OnCall("schedule", "dba", ("bob",)),
        OnCall("service", "default", ("bob",), "office"),
    ]
    assert on_call_now(settings, START + timedelta(days=7, hours=8)) == [
        OnCall("schedule", "dba", ("carol",)),
        OnCall("service", "default", ("carol", "alice"), "after hours"),
    ]


async def test_the_incident_page_says_where_the_escalation_stands(tmp_path: Path) -> None:
    from gateway.web.pages import escalation_note  # noqa: PLC0415

    policy = {"name": "office", "levels": levels("alice", "bob"), "delay_s": 60}
    async with gateway(tmp_path, {"policies": [policy]}) as (rt, clock):
        n = await fire_alert(rt)
        assert escalation_note(await incident(rt, n), "en") == (
            "office · first page held back until 2026-11-23 10:01 UTC"
        )
        clock.advance(seconds=60)
        await run_due(rt)
        assert escalation_note(await incident(rt, n), "en") == (
            "office · level 1 of 2 · next step 2026-11-23 10:11 UTC"
        )
        await perform(rt, ActionRequest(n, Verb.ACK, "api", member="alice"))
        assert escalation_note(await incident(rt, n), "zh") == "office · 第 1/2 层 · 已停止"
    (tmp_path / "none").mkdir()
    async with gateway(tmp_path / "none", {}) as (rt, _clock):
        n = await fire_alert(rt)
        assert escalation_note(await incident(rt, n), "en") == "no policy: nobody is paged"
