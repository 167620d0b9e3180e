"""Incident JSON written by hand in ``gateway.wire.incident_json`` shape, and golden-file checks."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from gateway.domain import JSONObject

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE_ENV = "UPDATE_GOLDEN"

_TRIGGERED: JSONObject = {
    "number": 42,
    "title": "HighErrorRate on checkout",
    "description": "",
    "severity": "critical",
    "status": "triggered",
    "service": "checkout",
    "integration": "prometheus",
    "created_at": "2026-03-01T10:00:00Z",
    "updated_at": "2026-03-01T10:00:30Z",
    "acked_by": None,
    "acked_at": None,
    "closed_by": None,
    "closed_at": None,
    "assignees": ["alice"],
    "escalation_step": 0,
    "escalate_at": "2026-03-01T10:05:00Z",
    "snoozed_until": None,
    "alert_count": 2,
    "labels": {
        "alertname": "HighErrorRate",
        "severity": "critical",
        "team": "payments",
        "env": "prod",
        "region": "eu-west-1",
    },
    "alerts": [
        {
            "dedup_key": "fp-1",
            "title": "HighErrorRate on checkout",
            "description": "5xx ratio above 5% for 10 minutes on checkout-api.",
            "severity": "critical",
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": "checkout-1:9090"},
            "details": {
                "summary": "HighErrorRate on checkout",
                "runbook_url": "https://runbooks.example.com/checkout-5xx",
                "dashboardURL": "https://grafana.example.com/d/checkout",
                "panelURL": "https://grafana.example.com/d/checkout?viewPanel=2",
            },
            "starts_at": "2026-03-01T09:59:00Z",
            "ends_at": None,
            "source_url": "https://prometheus.example.com/graph?g0.expr=rate",
            "count": 1,
            "last_seen": "2026-03-01T10:00:00Z",
        },
        {
            "dedup_key": "fp-2",
            "title": "HighErrorRate on checkout",
            "description": "Second replica too.",
            "severity": "critical",
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "instance": "checkout-2:9090"},
            "details": {"runbook_url": "https://runbooks.example.com/checkout-5xx"},
            "starts_at": "2026-03-01T10:00:00Z",
            "ends_at": None,
            "source_url": "https://prometheus.example.com/graph?g0.expr=rate",
            "count": 3,
            "last_seen": "2026-03-01T10:00:30Z",
        },
    ],
    "timeline": [
        {
            "at": "2026-03-01T10:00:00Z",
            "kind": "triggered",
            "actor": None,
            "source": "prometheus",
            "data": {},
        }
    ],
}

_ACK_ENTRY: JSONObject = {
    "at": "2026-03-01T10:02:00Z",
    "kind": "acknowledged",
    "actor": "alice",
    "source": "slack",
    "data": {},
}


def triggered() -> JSONObject:
    """#42, critical, just triggered, with two alerts."""
    return copy.deepcopy(_TRIGGERED)


def acknowledged() -> JSONObject:
    """#42 acknowledged by alice at 10:02."""
    doc = triggered()
    doc.update(
        status="acknowledged",
        acked_by="alice",
        acked_at="2026-03-01T10:02:00Z",
        updated_at="2026-03-01T10:02:00Z",
        escalate_at=None,
    )
    doc["timeline"].append(copy.deepcopy(_ACK_ENTRY))
    return doc


def closed() -> JSONObject:
    """#42 acknowledged, commented on, then closed by alice at 11:05, 1 h 5 min after it began."""
    doc = acknowledged()
    doc.update(
        status="closed",
        closed_by="alice",
        closed_at="2026-03-01T11:05:00Z",
        updated_at="2026-03-01T11:05:00Z",
    )
    doc["timeline"] += [
        entry("2026-03-01T10:30:00Z", "commented", "bob", "web", text="rolled back"),
        entry("2026-03-01T11:05:00Z", "closed", "alice", "slack"),
    ]
    return doc


def digest_items() -> list[JSONObject]:
    """Three incidents as a digest card lists them (``gateway.outbox`` writes these): one
    plain, one whose title tries every platform's markup, one without a page link."""
    page = "https://ackgate.example.com/incidents"
    return [
        {"number": 7, "title": "HighErrorRate on checkout", "severity": "critical",
         "url": f"{page}/7"},
        {"number": 8, "title": "Disk <b>full</b> & [x](https://evil.example) <at id=all></at> "
         "*boom* `rm` <!channel> #9", "severity": "warning", "url": f"{page}/8"},
        {"number": 9, "title": "磁盘使用率过高 on db-1", "severity": "info", "url": None},
    ]  # fmt: skip


def storm_items(count: int = 50) -> list[JSONObject]:
    """As many incidents as a digest card takes, each with the longest title (wide characters,
    three bytes each in UTF-8) and a page link."""
    return [
        {
            "number": 1000 + n,
            "title": "磁" * 200,
            "severity": "critical",
            "url": f"https://ackgate.example.com/incidents/{1000 + n}",
        }
        for n in range(count)
    ]


def entry(at: str, kind: str, actor: str | None, source: str, **data: Any) -> JSONObject:
    """One timeline entry as ``gateway.wire.entry_json`` writes it."""
    return {"at": at, "kind": kind, "actor": actor, "source": source, "data": data}


def check_golden(name: str, actual: str) -> None:
    """Compare ``actual`` with ``golden/<name>``; ``UPDATE_GOLDEN=1`` rewrites the file instead."""
    path = GOLDEN / name
    if os.environ.get(UPDATE_ENV) == "1":
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing; run with {UPDATE_ENV}=1 to write it"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"
