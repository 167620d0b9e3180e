"""Alerts in through HTTP: each real fixture end to end, dedup, grouping, closing, bad input."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.clock import ManualClock
from gateway.logsetup import ContextFilter
from gateway.web.app import create_app
from tests.support import fixture, make_settings

AUTH = {"Authorization": "Bearer example-token"}
API = {"Authorization": "Bearer example-api-token"}

Client = Any


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path) -> TestClient:  # type: ignore[type-arg]
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    app = create_app(settings, clock=ManualClock(), workers=False)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def incidents(client: Client) -> list[dict[str, Any]]:
    r = await client.get("/v1/incidents", headers=API)
    assert r.status == 200
    return (await r.json())["incidents"]  # type: ignore[no-any-return]


async def incident(client: Client, number: int) -> dict[str, Any]:
    r = await client.get(f"/v1/incidents/{number}", headers=API)
    assert r.status == 200
    return (await r.json())["incident"]  # type: ignore[no-any-return]


async def post(
    client: Client,
    body: Any,
    integration: str = "prometheus",
    headers: dict[str, str] | None = None,
) -> Any:
    return await client.post(f"/v1/alerts/{integration}", json=body, headers=headers or AUTH)


async def test_firing_fixture_opens_one_incident(client: Client) -> None:
    r = await post(client, fixture("alertmanager", "firing.json"))
    assert r.status == 202
    body = await r.json()
    assert body["incidents"] == [1]
    assert body["opened"] == [1]
    inc = await incident(client, 1)
    assert inc["status"] == "triggered"
    assert inc["severity"] == "critical"
    assert inc["title"] == "5xx ratio above 5% on checkout"
    assert inc["assignees"] == ["alice"]
    assert [a["dedup_key"] for a in inc["alerts"]] == ["f7ca8b2ae37f4b50"]
    assert [e["kind"] for e in inc["timeline"]] == ["triggered"]


async def test_same_alert_again_updates_instead_of_opening(client: Client) -> None:
    await post(client, fixture("alertmanager", "firing.json"))
    r = await post(client, fixture("alertmanager", "firing.json"))
    assert (await r.json())["opened"] == []
    assert len(await incidents(client)) == 1
    inc = await incident(client, 1)
    assert inc["alerts"][0]["count"] == 2


async def test_alerts_of_one_group_share_an_incident(client: Client) -> None:
    await post(client, fixture("alertmanager", "firing.json"))
    r = await post(client, fixture("alertmanager", "firing-2alerts.json"))
    assert (await r.json())["incidents"] == [1]
    inc = await incident(client, 1)
    assert sorted(a["dedup_key"] for a in inc["alerts"]) == ["35168abc2368c313", "f7ca8b2ae37f4b50"]
    assert inc["alert_count"] == 2


async def test_two_alert_payload_alone_opens_one_incident(client: Client) -> None:
    r = await post(client, fixture("alertmanager", "firing-2alerts.json"))
    assert (await r.json())["opened"] == [1]
    assert (await incident(client, 1))["alert_count"] == 2


async def test_resolved_closes_only_when_every_alert_resolved(client: Client) -> None:
    await post(client, fixture("alertmanager", "firing-2alerts.json"))
    half = fixture("alertmanager", "resolved.json")
    half["alerts"] = half["alerts"][:1]
    await post(client, half)
    assert (await incident(client, 1))["status"] == "triggered"
    r = await post(client, fixture("alertmanager", "resolved.json"))
    assert (await r.json())["closed"] == [1]
    inc = await incident(client, 1)
    assert inc["status"] == "closed"
    assert inc["timeline"][-1]["kind"] == "closed"
    assert {a["status"] for a in inc["alerts"]} == {"resolved"}


async def test_firing_after_close_opens_a_new_incident(client: Client) -> None:
    await post(client, fixture("alertmanager", "firing.json"))
    await post(client, fixture("alertmanager", "resolved.json"))
    r = await post(client, fixture("alertmanager", "firing.json"))
    assert (await r.json())["opened"] == [2]


async def test_resolve_for_unknown_alert_is_accepted_and_ignored(client: Client) -> None:
    r = await post(client, fixture("alertmanager", "resolved.json"))
    assert r.status == 202
    assert (await r.json())["ignored"] == 2
    assert await incidents(client) == []


async def test_close_on_resolve_can_be_switched_off(aiohttp_client: Any, tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db",
        integrations={
            "prometheus": {
                "format": "alertmanager",
                "token": "example-token",
                "close_on_resolve": False,
            }
        },
    )
    client = await aiohttp_client(create_app(settings, workers=False))
    await post(client, fixture("alertmanager", "firing.json"))
    await post(client, fixture("alertmanager", "resolved.json"))
    assert (await incident(client, 1))["status"] == "triggered"


async def test_generic_events_trigger_acknowledge_resolve(client: Client) -> None:
    auth = {"Authorization": "Bearer generic-token-1"}
    trigger = {
        "event_action": "trigger",
        "dedup_key": "disk-db7",
        "payload": {"summary": "disk full on db-7", "source": "db-7", "severity": "critical"},
    }
    r = await post(client, trigger, "events", auth)
    assert r.status == 202
    assert (await r.json())["dedup_keys"] == ["disk-db7"]
    await post(client, {**trigger, "event_action": "acknowledge"}, "events", auth)
    inc = await incident(client, 1)
    assert inc["status"] == "acknowledged"
    assert inc["acked_by"] == "events"
    await post(client, {**trigger, "event_action": "resolve"}, "events", auth)
    assert (await incident(client, 1))["status"] == "closed"


async def test_generic_trigger_without_dedup_key_gets_one_back(client: Client) -> None:
    auth = {"Authorization": "Bearer generic-token-1"}
    body = {
        "event_action": "trigger",
        "payload": {"summary": "x", "source": "y", "severity": "info"},
    }
    first = await (await post(client, body, "events", auth)).json()
    second = await (await post(client, body, "events", auth)).json()
    assert first["dedup_keys"] != second["dedup_keys"]
    assert len(await incidents(client)) == 2


async def test_grafana_payload(client: Client) -> None:
    r = await post(
        client,
        fixture("grafana", "firing.json"),
        "grafana",
        {"Authorization": "Bearer grafana-token-1"},
    )
    assert r.status == 202, await r.text()
    assert len(await incidents(client)) == 1


async def test_token_in_query_and_basic_auth(client: Client) -> None:
    r = await client.post(
        "/v1/alerts/prometheus?token=example-token", json=fixture("alertmanager", "firing.json")
    )
    assert r.status == 202
    basic = base64.b64encode(b"grafana:grafana-token-1").decode()
    r = await post(
        client, fixture("grafana", "firing.json"), "grafana", {"Authorization": f"Basic {basic}"}
    )
    assert r.status == 202


def _broken(key: str, value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = fixture("alertmanager", "firing.json")
    doc[key] = value
    return doc


BAD_INPUT = [
    (
        "unknown integration",
        "/v1/alerts/nope",
        AUTH,
        json.dumps(fixture("alertmanager", "firing.json")),
        404,
        "",
    ),
    ("wrong token", "/v1/alerts/prometheus", {"Authorization": "Bearer wrong"}, "{}", 401, ""),
    ("no token", "/v1/alerts/prometheus", {}, "{}", 401, ""),
    (
        "token of another integration",
        "/v1/alerts/prometheus",
        {"Authorization": "Bearer generic-token-1"},
        "{}",
        401,
        "",
    ),
    ("malformed JSON", "/v1/alerts/prometheus", AUTH, "{not json", 400, "JSON"),
    ("empty body", "/v1/alerts/prometheus", AUTH, "", 400, "empty"),
    (
        "alerts not a list",
        "/v1/alerts/prometheus",
        AUTH,
        json.dumps(_broken("alerts", "nope")),
        400,
        "alerts",
    ),
    ("body is a list", "/v1/alerts/prometheus", AUTH, "[1, 2]", 400, ""),
    (
        "alert labels wrong",
        "/v1/alerts/prometheus",
        AUTH,
        json.dumps(_broken("alerts", [{"status": "firing", "labels": 5}])),
        400,
        "alerts[0]",
    ),
    ("oversized", "/v1/alerts/prometheus", AUTH, "x" * (1024 * 1024 + 10), 413, ""),
]


@pytest.mark.parametrize(
    ("path", "headers", "body", "status", "mention"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
async def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    client: Client, path: str, headers: dict[str, str], body: str, status: int, mention: str
) -> None:
    r = await client.post(
        path, data=body.encode(), headers={**headers, "Content-Type": "application/json"}
    )
    assert r.status == status
    doc = await r.json()
    assert mention in doc["error"]
    assert await incidents(client) == []


async def test_rest_needs_api_token(client: Client) -> None:
    for path in ("/v1/incidents", "/v1/incidents/1"):
        r = await client.get(path)
        assert r.status == 401
    r = await client.get("/v1/incidents", headers={"Authorization": "Bearer example-token"})
    assert r.status == 401


async def test_rest_list_filters_and_pages(client: Client) -> None:
    auth = {"Authorization": "Bearer generic-token-1"}
    for i, sev in enumerate(["critical", "warning", "info"]):
        await post(
            client,
            {
                "event_action": "trigger",
                "dedup_key": f"k{i}",
                "payload": {"summary": f"s{i}", "source": "h", "severity": sev},
            },
            "events",
            auth,
        )
    r = await client.get("/v1/incidents?severity=critical,info&limit=1", headers=API)
    doc = await r.json()
    assert doc["total"] == 2
    assert [i["number"] for i in doc["incidents"]] == [3]
    r = await client.get("/v1/incidents?status=bogus", headers=API)
    assert r.status == 400
    r = await client.get("/v1/incidents?limit=0", headers=API)
    assert r.status == 400
    r = await client.get("/v1/incidents/999", headers=API)
    assert r.status == 404
    r = await client.get("/v1/incidents/abc", headers=API)
    assert r.status == 404


async def test_openapi_health_and_metrics(client: Client) -> None:
    r = await client.get("/v1/openapi.json")
    assert "/v1/incidents/{number}/actions" in (await r.json())["paths"]
    assert (await client.get("/healthz")).status == 200
    await post(client, fixture("alertmanager", "firing-2alerts.json"))
    text = await (await client.get("/metrics")).text()
    assert 'ackgate_alerts_received_total{integration="prometheus"} 2.0' in text
    assert 'ackgate_incidents{status="triggered"} 1.0' in text
    assert "ackgate_http_request_duration_seconds_bucket" in text


async def test_worse_alert_joining_raises_incident_severity(client: Client) -> None:
    first = fixture("alertmanager", "firing.json")
    first["alerts"][0]["labels"]["severity"] = "info"
    await post(client, first)
    assert (await incident(client, 1))["severity"] == "info"
    second = fixture("alertmanager", "firing-2alerts.json")
    second["alerts"][1]["labels"]["severity"] = "warning"
    await post(client, second)
    assert (await incident(client, 1))["severity"] == "warning"


async def test_state_changes_log_one_line_each_with_their_request_id(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(ContextFilter())
    caplog.set_level(logging.INFO, logger="gateway")
    r = await client.post(
        "/v1/alerts/prometheus",
        json=fixture("alertmanager", "firing.json"),
        headers={**AUTH, "X-Request-Id": "req-ingest"},
    )
    assert r.headers["X-Request-Id"] == "req-ingest"
    await client.post(
        "/v1/incidents/1/actions", json={"verb": "ack"}, headers={**API, "X-Request-Id": "req-ack"}
    )
    lines = [
        (rec.getMessage(), getattr(rec, "request_id", None))
        for rec in caplog.records
        if rec.name.startswith("gateway")
    ]
    assert ("incident #1 opened by prometheus", "req-ingest") in lines
    assert ("incident #1 ack by alice via api", "req-ack") in lines
    assert not any("example-token" in message for message, _ in lines)
