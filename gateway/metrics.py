"""Prometheus metrics, one registry per app so tests and several apps never collide."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    """Every metric ackgate exports."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts_received = Counter(
            "ackgate_alerts_received",
            "Alerts accepted, by integration.",
            ["integration"],
            registry=self.registry,
        )
        self.ingest_rejected = Counter(
            "ackgate_ingest_rejected",
            "Ingest requests refused, by integration and HTTP status.",
            ["integration", "status"],
            registry=self.registry,
        )
        self.incidents = Gauge(
            "ackgate_incidents",
            "Incidents by status (read from the database at scrape time).",
            ["status"],
            registry=self.registry,
        )
        self.actions = Counter(
            "ackgate_actions",
            "Actions performed, by verb, source and result.",
            ["verb", "source", "result"],
            registry=self.registry,
        )
        self.deliveries = Counter(
            "ackgate_deliveries",
            "Delivery attempts' results, by channel and resulting state.",
            ["channel", "state"],
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "ackgate_delivery_seconds",
            "Time one send took, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "ackgate_http_request_duration_seconds",
            "HTTP request latency, by route and method.",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
