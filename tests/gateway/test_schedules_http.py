"""Schedules over HTTP: who is on call, the iCal feed and its token, and paging a schedule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import icalendar
import pytest
from aiohttp.test_utils import TestClient

from gateway.clock import ManualClock
from gateway.links import feed_token
from gateway.web.app import create_app
from tests.support import fixture, make_settings

API = {"Authorization": "Bearer example-api-token"}
AUTH = {"Authorization": "Bearer example-token"}
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)  # a Friday; alice's week
SCHEDULES = {
    "dba": {
        "timezone": "Europe/Berlin",
        "layers": [
            {"name": "weekly", "members": ["alice", "bob"], "shift_h": 168, "start": "2026-01-05"}
        ],
        "overrides": [
            {"member": "bob", "start": "2026-11-27T18:00", "end": "2026-11-28T09:00"},
        ],
    }
}
SERVICES = {"default": {"escalation": {"levels": [{"targets": ["schedule:dba"]}]}}}


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> TestClient:  # type: ignore[type-arg]
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db", schedules=SCHEDULES, services=SERVICES
    )
    app = create_app(settings, clock=ManualClock(NOW), workers=False)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def test_who_is_on_call_now_and_later(client: Any) -> None:
    r = await client.get("/v1/schedules", headers=API)
    assert r.status == 200
    assert (await r.json())["schedules"] == [
        {"name": "dba", "description": "", "on_call": ["alice"]}
    ]
    r = await client.get("/v1/schedules/dba?at=2026-11-27T20:00:00Z", headers=API)
    body = await r.json()
    assert body["on_call"] == ["bob"]
    assert body["shifts"][0] == {
        "member": "bob",
        "start": "2026-11-27T20:00:00Z",
        "end": "2026-11-28T08:00:00Z",
        "layer": None,
    }
    assert (await client.get("/v1/schedules/dba?at=yesterday", headers=API)).status == 400
    assert (await client.get("/v1/schedules/nope", headers=API)).status == 404
    assert (await client.get("/v1/schedules/dba")).status == 401


async def test_ical_feed_with_its_token_or_an_api_token(client: Any) -> None:
    token = feed_token("test-secret-key-0123456789", "dba")
    r = await client.get(f"/v1/schedules/dba.ics?token={token}")
    assert r.status == 200
    assert r.content_type == "text/calendar"
    calendar = icalendar.Calendar.from_ical(await r.read())
    events = list(calendar.walk("VEVENT"))
    assert any("bob" in str(e["SUMMARY"]) for e in events)
    assert (await client.get("/v1/schedules/dba.ics", headers=API)).status == 200
    assert (await client.get("/v1/schedules/dba.ics?token=forged")).status == 401
    other = feed_token("test-secret-key-0123456789", "other")
    assert (await client.get(f"/v1/schedules/dba.ics?token={other}")).status == 401


async def test_a_level_pages_whoever_is_on_call(client: Any) -> None:
    r = await client.post(
        "/v1/alerts/prometheus", json=fixture("alertmanager", "firing.json"), headers=AUTH
    )
    assert r.status == 202
    r = await client.get("/v1/incidents/1", headers=API)
    assert (await r.json())["incident"]["assignees"] == ["alice"]
