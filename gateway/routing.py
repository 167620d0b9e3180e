"""Which service owns an alert: the first matching rule, else the default service."""

from __future__ import annotations

from gateway.config import Settings
from gateway.domain import AlertEvent
from gateway.matching import RouteDecision, Subject
from gateway.matching import route as first_match


def decide(settings: Settings, integration: str, event: AlertEvent) -> RouteDecision:
    """The routing decision for ``event``, with every rule tried and why it (did not) match."""
    return first_match(
        settings.routing.rules,
        settings.routing.default_service,
        Subject.of_event(event, integration),
    )


def route(settings: Settings, integration: str, event: AlertEvent) -> str:
    """The service that owns incidents opened by ``event``."""
    return decide(settings, integration, event).service
