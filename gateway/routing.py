"""Which service owns an alert: the first matching rule, else the default service."""

from __future__ import annotations

from gateway.config import Settings
from gateway.domain import AlertEvent


def route(settings: Settings, integration: str, event: AlertEvent) -> str:
    """The service that owns incidents opened by ``event``."""
    for rule in settings.routing.rules:
        if rule.integration is not None and rule.integration != integration:
            continue
        if rule.severity is not None and event.severity not in rule.severity:
            continue
        if any(event.labels.get(k) != v for k, v in rule.labels.items()):
            continue
        return rule.service
    return settings.routing.default_service
