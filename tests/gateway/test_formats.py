"""Tests for gateway.ingest.formats: real and hand-made payloads in, AlertBatches or errors out."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gateway.config import IntegrationSettings
from gateway.domain import AlertAction, Severity
from gateway.errors import MalformedPayload
from gateway.ingest.formats import SEVERITY_SYNONYMS, TOP, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GROUP_KEY = '{}:{alertname="HighErrorRate", service="checkout"}'


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def settings(fmt: str = "alertmanager", **kwargs: Any) -> IntegrationSettings:
    return IntegrationSettings(format=fmt, token="example-token", **kwargs)


def am_alert(**overrides: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "status": "firing",
        "labels": {"alertname": "Down", "severity": "critical"},
        "annotations": {},
        "startsAt": "2026-11-27T05:35:09Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "00000000000000aa",
    }
    alert.update(overrides)
    return alert


def am_body(*alerts: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": "4", "alerts": list(alerts or [am_alert()]), **top}


def trigger(**payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_action": "trigger",
        "payload": {"summary": "down", "source": "web-1", "severity": "critical"},
    }
    body["payload"].update(payload)
    return body


# --- Alertmanager: the real fixtures -----------------------------------------------------

AM_FIXTURES = [
    ("alertmanager/firing.json", AlertAction.TRIGGER, ["f7ca8b2ae37f4b50"]),
    (
        "alertmanager/firing-2alerts.json",
        AlertAction.TRIGGER,
        ["f7ca8b2ae37f4b50", "35168abc2368c313"],
    ),
    ("alertmanager/resolved.json", AlertAction.RESOLVE, ["f7ca8b2ae37f4b50", "35168abc2368c313"]),
]


@pytest.mark.parametrize(("name", "action", "keys"), AM_FIXTURES)
def test_alertmanager_fixtures(name: str, action: AlertAction, keys: list[str]) -> None:
    batch = parse("alertmanager", load(name), settings())
    assert batch.group_key == GROUP_KEY
    assert [e.dedup_key for e in batch.events] == keys
    for event in batch.events:
        assert event.action is action
        assert event.title == "5xx ratio above 5% on checkout"
        assert event.severity is Severity.CRITICAL
        assert event.description == ""
        assert event.labels["service"] == "checkout"
        assert event.details["runbook_url"] == "http://runbooks.example.invalid/checkout-5xx"
        assert event.source is not None
        assert event.source.startswith("web-")
    first = batch.events[0]
    assert first.starts_at == datetime(2026, 11, 27, 5, 35, 9, 659521, tzinfo=UTC)
    if action is AlertAction.TRIGGER:
        assert all(e.ends_at is None for e in batch.events)
    else:
        assert all(
            e.ends_at == datetime(2026, 11, 27, 5, 35, 27, 288781, tzinfo=UTC) for e in batch.events
        )


def test_alertmanager_source_url_empty_generator_is_none() -> None:
    events = parse("alertmanager", load("alertmanager/firing-2alerts.json"), settings()).events
    assert events[0].source_url == "http://prometheus.local:9090/graph?g0.expr=rate_5xx"
    assert events[1].source_url is None


def test_missing_fingerprint_gets_stable_label_hash() -> None:
    body = load("alertmanager/firing.json")
    del body["alerts"][0]["fingerprint"]
    key = parse("alertmanager", body, settings()).events[0].dedup_key
    assert len(key) == 16
    assert int(key, 16) >= 0
    reordered = copy.deepcopy(body)
    labels = reordered["alerts"][0]["labels"]
    reordered["alerts"][0]["labels"] = dict(reversed(list(labels.items())))
    assert parse("alertmanager", reordered, settings()).events[0].dedup_key == key
    body["alerts"][0]["labels"]["instance"] = "web-9:8080"
    assert parse("alertmanager", body, settings()).events[0].dedup_key != key


def test_alertmanager_fallbacks_and_coercion() -> None:
    alert = am_alert(
        labels={"alertname": "Down", "port": 8080, "up": False, "ratio": 0.5, "gone": None},
        annotations={"message": "it is down"},
        fingerprint="",
        generatorURL="",
    )
    del alert["startsAt"]
    event = parse("alertmanager", am_body(alert, groupKey=""), settings()).events[0]
    assert event.title == "Down"
    assert event.description == "it is down"
    assert dict(event.labels) == {
        "alertname": "Down",
        "port": "8080",
        "up": "false",
        "ratio": "0.5",
    }
    assert event.severity is Severity.WARNING
    assert event.starts_at is None
    assert event.source is None
    assert len(event.dedup_key) == 16
    batch = parse("alertmanager", am_body(am_alert(labels={"job": "node"})), settings())
    assert batch.group_key is None
    assert batch.events[0].title == "alert"
    assert batch.events[0].source == "node"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-27T05:35:09.659521269Z", datetime(2026, 11, 27, 5, 35, 9, 659521, tzinfo=UTC)),
        ("2026-11-27T05:35:09Z", datetime(2026, 11, 27, 5, 35, 9, tzinfo=UTC)),
        ("2026-11-27t05:35:09.5z", datetime(2026, 11, 27, 5, 35, 9, 500000, tzinfo=UTC)),
        ("2026-11-27T07:35:09.1+02:00", datetime(2026, 11, 27, 5, 35, 9, 100000, tzinfo=UTC)),
        ("2026-11-27T00:35:09-0500", datetime(2026, 11, 27, 5, 35, 9, tzinfo=UTC)),
        ("0001-01-01T00:00:00Z", None),
        ("0001-01-01T00:00:00.000000000Z", None),
        ("", None),
        (None, None),
    ],
)
def test_times(text: str | None, expected: datetime | None) -> None:
    event = parse("alertmanager", am_body(am_alert(endsAt=text)), settings()).events[0]
    assert event.ends_at == expected
    if expected is not None:
        assert event.ends_at is not None
        assert event.ends_at.tzinfo is UTC


# --- Grafana -----------------------------------------------------------------------------


def test_grafana_fixture() -> None:
    body = load("grafana/firing.json")
    batch = parse("grafana", body, settings("grafana"))
    assert batch.group_key == body["groupKey"]
    first, second = batch.events
    assert [first.dedup_key, second.dedup_key] == ["0a1b2c3d4e5f6789", "1b2c3d4e5f67890a"]
    assert first.action is second.action is AlertAction.TRIGGER
    assert first.title == "Root volume on db-7 is 93% full"
    assert first.description.startswith("The root volume of db-7")
    assert first.severity is Severity.WARNING
    assert first.source == "db-7:9100"
    assert first.details["values"] == {"A": 93.2, "C": 1}
    assert first.details["panelURL"].endswith("viewPanel=4")
    assert "silenceURL" in first.details
    assert first.starts_at == datetime(2026, 11, 27, 6, 10, tzinfo=UTC)
    assert first.ends_at is None
    assert second.title == "DiskAlmostFull"
    assert second.severity is Severity.CRITICAL
    assert second.starts_at == datetime(2026, 11, 27, 6, 10, 30, 250000, tzinfo=UTC)
    assert "dashboardURL" not in second.details
    assert "panelURL" not in second.details


def test_grafana_value_string_and_title_fallback() -> None:
    body = load("grafana/firing.json")
    alert = body["alerts"][1]
    del alert["labels"]["alertname"], alert["values"]
    alert["valueString"] = "[ var='A' labels={host=db-8} value=97.5 ]"
    event = parse("grafana", body, settings("grafana")).events[1]
    assert event.title == "[FIRING:2] DiskAlmostFull infra"
    assert event.details["valueString"].startswith("[ var='A'")
    assert "values" not in event.details
    event = parse("alertmanager", body, settings()).events[1]
    assert event.title == "alert"
    assert "valueString" not in event.details


# --- generic (PagerDuty Events API v2) ----------------------------------------------------


def test_generic_trigger_fixture() -> None:
    batch = parse("generic", load("generic/trigger.json"), settings("generic"))
    assert batch.group_key is None
    (event,) = batch.events
    assert event.dedup_key == "db-7/disk/root"
    assert event.action is AlertAction.TRIGGER
    assert event.title == "Root volume on db-7 is 93% full"
    assert event.description == "The root volume has been above 90% for 5 minutes."
    assert event.severity is Severity.CRITICAL
    assert event.source == "db-7.example.invalid"
    assert event.source_url == "https://monitoring.example.invalid/checks/disk-db-7"
    assert event.starts_at == datetime(2026, 11, 27, 6, 20, 0, 315000, tzinfo=UTC)
    assert event.labels["free space"] == "7%"
    assert event.labels["load avg"] == "0.75"
    assert event.labels["degraded"] == "true"
    assert "mounts" not in event.labels
    assert event.labels["source"] == "db-7.example.invalid"
    assert (event.labels["component"], event.labels["group"], event.labels["class"]) == (
        "postgres",
        "prod-datapipe",
        "disk",
    )
    assert event.details["mounts"] == ["/", "/var"]
    assert event.details["class"] == "disk"


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("generic/acknowledge.json", AlertAction.ACKNOWLEDGE),
        ("generic/resolve.json", AlertAction.RESOLVE),
    ],
)
def test_generic_ack_and_resolve(name: str, action: AlertAction) -> None:
    (event,) = parse("generic", load(name), settings("generic", default_severity="info")).events
    assert event.action is action
    assert event.dedup_key == "db-7/disk/root"
    assert event.title == ""
    assert event.severity is Severity.INFO
    assert event.source is None


def test_generic_list_and_link_fallback() -> None:
    body = [
        load("generic/trigger.json"),
        trigger(custom_details="free text"),
        load("generic/resolve.json"),
    ]
    body[0].pop("client_url")
    events = parse("generic", body, settings("generic")).events
    assert [e.action for e in events] == [
        AlertAction.TRIGGER,
        AlertAction.TRIGGER,
        AlertAction.RESOLVE,
    ]
    assert events[0].source_url == "https://runbooks.example.invalid/disk-full"
    assert events[1].details == {"custom_details": "free text"}
    assert events[1].source_url is None


def test_generic_trigger_without_dedup_key_gets_fresh_key() -> None:
    body = load("generic/trigger.json")
    del body["dedup_key"]
    keys = {parse("generic", body, settings("generic")).events[0].dedup_key for _ in range(3)}
    assert len(keys) == 3
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys)


# --- severity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        *((word, SEVERITY_SYNONYMS[word]) for word in ("critical", "crit", "p1", "disaster")),
        ("CRITICAL", Severity.CRITICAL),
        (" High ", Severity.CRITICAL),
        ("emerg", Severity.CRITICAL),
        ("warning", Severity.WARNING),
        ("Warn", Severity.WARNING),
        ("error", Severity.WARNING),
        ("average", Severity.WARNING),
        ("p3", Severity.WARNING),
        ("info", Severity.INFO),
        ("informational", Severity.INFO),
        ("debug", Severity.INFO),
        ("p5", Severity.INFO),
        ("bogus", Severity.INFO),
        (None, Severity.INFO),
    ],
)
def test_severity_synonyms(value: str | None, expected: Severity) -> None:
    labels = {"alertname": "x"} if value is None else {"alertname": "x", "level": value}
    conf = settings(severity_label="level", default_severity="info")
    event = parse("alertmanager", am_body(am_alert(labels=labels)), conf).events[0]
    assert event.severity is expected
    generic = trigger(severity=value) if value is not None else trigger()
    if value is not None:
        assert parse("generic", generic, conf).events[0].severity is expected


def test_synonym_table_covers_every_severity() -> None:
    assert set(SEVERITY_SYNONYMS.values()) == set(Severity)
    assert all(word == word.lower() for word in SEVERITY_SYNONYMS)


def test_severity_map_overrides_synonyms() -> None:
    conf = settings(severity_map={"Critical": "info", "SEV1": "critical"})
    for value, expected in [("critical", Severity.INFO), ("sev1", Severity.CRITICAL)]:
        alert = am_alert(labels={"alertname": "x", "severity": value})
        assert parse("alertmanager", am_body(alert), conf).events[0].severity is expected
    assert parse("generic", trigger(severity="CRITICAL"), conf).events[0].severity is Severity.INFO


# --- bad input ---------------------------------------------------------------------------

BAD: list[tuple[str, object, str]] = [
    ("alertmanager", [], TOP),
    ("alertmanager", "text", TOP),
    ("alertmanager", None, TOP),
    ("grafana", 42, TOP),
    ("alertmanager", {}, "alerts"),
    ("alertmanager", {"alerts": {"0": {}}}, "alerts"),
    ("alertmanager", {"alerts": []}, "alerts"),
    ("alertmanager", {"alerts": [am_alert()] * 1001}, "alerts"),
    ("alertmanager", am_body(am_alert(), "x"), "alerts[1]"),  # type: ignore[arg-type]
    ("alertmanager", am_body(am_alert(labels=["a"])), "alerts[0].labels"),
    ("alertmanager", am_body(am_alert(labels=None)), "alerts[0].labels"),
    ("alertmanager", am_body(am_alert(labels={"a": {"b": 1}})), "alerts[0].labels.a"),
    ("alertmanager", am_body(am_alert(annotations="x")), "alerts[0].annotations"),
    ("alertmanager", am_body(am_alert(status="pending")), "alerts[0].status"),
    ("alertmanager", am_body(am_alert(status=None)), "alerts[0].status"),
    ("alertmanager", am_body(am_alert(status=["firing"])), "alerts[0].status"),
    ("alertmanager", am_body(am_alert(startsAt="yesterday")), "alerts[0].startsAt"),
    ("alertmanager", am_body(am_alert(startsAt="2026-13-01T00:00:00Z")), "alerts[0].startsAt"),
    ("alertmanager", am_body(am_alert(startsAt="2026-11-27T05:35:09")), "alerts[0].startsAt"),
    ("alertmanager", am_body(am_alert(startsAt=1764221709)), "alerts[0].startsAt"),
    ("alertmanager", am_body(am_alert(endsAt="2026-11-27T05:35:09+25:00")), "alerts[0].endsAt"),
    ("alertmanager", am_body(am_alert(fingerprint=7)), "alerts[0].fingerprint"),
    ("alertmanager", am_body(am_alert(fingerprint="f" * 256)), "alerts[0].fingerprint"),
    ("alertmanager", am_body(am_alert(generatorURL=[])), "alerts[0].generatorURL"),
    ("alertmanager", am_body(groupKey=1), "groupKey"),
    ("grafana", am_body(am_alert(), am_alert(status="ok")), "alerts[1].status"),
    ("grafana", am_body(title=["t"]), "title"),
    ("generic", "text", TOP),
    ("generic", None, TOP),
    ("generic", [], TOP),
    ("generic", [trigger()] * 1001, TOP),
    ("generic", [trigger(), 3], "[1]"),
    ("generic", {"payload": {}}, "event_action"),
    ("generic", {**trigger(), "event_action": "snooze"}, "event_action"),
    ("generic", {**trigger(), "event_action": 1}, "event_action"),
    ("generic", {"event_action": "trigger"}, "payload"),
    ("generic", {"event_action": "trigger", "payload": "x"}, "payload"),
    ("generic", trigger(summary=None), "payload.summary"),
    ("generic", trigger(summary=""), "payload.summary"),
    ("generic", trigger(summary=5), "payload.summary"),
    ("generic", trigger(summary="x" * 1025), "payload.summary"),
    ("generic", trigger(source=None), "payload.source"),
    ("generic", trigger(severity=None), "payload.severity"),
    ("generic", trigger(severity=2), "payload.severity"),
    ("generic", trigger(timestamp="now"), "payload.timestamp"),
    ("generic", trigger(component={}), "payload.component"),
    ("generic", {**trigger(), "dedup_key": "k" * 256}, "dedup_key"),
    ("generic", {**trigger(), "dedup_key": 12}, "dedup_key"),
    ("generic", {**trigger(), "links": "x"}, "links"),
    ("generic", {**trigger(), "links": [{"href": 1}]}, "links[0].href"),
    ("generic", {**trigger(), "links": ["x"]}, "links[0]"),
    ("generic", {**trigger(), "client_url": 1}, "client_url"),
    ("generic", {"event_action": "acknowledge"}, "dedup_key"),
    ("generic", {"event_action": "resolve", "dedup_key": ""}, "dedup_key"),
    ("generic", {"event_action": "resolve", "dedup_key": "k", "payload": 1}, "payload"),
    ("generic", [trigger(), trigger(summary=None)], "[1].payload.summary"),
    ("generic", [trigger(), {"event_action": "acknowledge"}], "[1].dedup_key"),
]


@pytest.mark.parametrize(("fmt", "body", "field"), BAD, ids=[f"{b[0]}:{b[2]}" for b in BAD])
def test_bad_input(fmt: str, body: object, field: str) -> None:
    with pytest.raises(MalformedPayload) as info:
        parse(fmt, body, settings(fmt))
    assert info.value.field == field
    assert info.value.status == 400


def test_max_sizes_are_accepted() -> None:
    assert len(parse("alertmanager", {"alerts": [am_alert()] * 1000}, settings()).events) == 1000
    assert len(parse("generic", [trigger()] * 1000, settings("generic")).events) == 1000
    body = {**trigger(summary="x" * 1024), "dedup_key": "k" * 255}
    assert parse("generic", body, settings("generic")).events[0].dedup_key == "k" * 255


JUNK: list[object] = [None, True, 0, -1.5, "", "x", [], [1], {}, {"a": []}]


def error_field(fmt: str, body: object) -> str | None:
    """The field MalformedPayload names, or None when ``body`` parses."""
    try:
        parse(fmt, body, settings(fmt))
    except MalformedPayload as exc:
        return exc.field
    return None


@pytest.mark.parametrize("name", ["alertmanager/firing.json", "grafana/firing.json"])
def test_junk_in_any_alert_field_is_malformed_or_parsed(name: str) -> None:
    base = load(name)
    fmt = name.split("/")[0]
    for key in [*base["alerts"][0], "nope"]:
        for junk in JUNK:
            body = copy.deepcopy(base)
            body["alerts"][0][key] = junk
            field = error_field(fmt, body)
            assert field is None or field.startswith("alerts[0]"), (key, junk, field)


def test_junk_in_any_generic_field_is_malformed_or_parsed() -> None:
    base = load("generic/trigger.json")
    paths = [(k,) for k in [*base, "nope"]] + [("payload", k) for k in base["payload"]]
    for path in paths:
        for junk in JUNK:
            body = copy.deepcopy(base)
            target = body if len(path) == 1 else body["payload"]
            target[path[-1]] = junk
            field = error_field("generic", body)
            assert field is None or field.startswith(path[0]), (path, junk, field)


def test_unknown_format_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown alert format"):
        parse("zabbix", {}, settings())
