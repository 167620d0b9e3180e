"""What every request handler and background job shares: settings, database, clock, metrics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.clock import Clock, SystemClock
from gateway.config import Settings
from gateway.metrics import Metrics
from storage.engine import Database


def _nothing() -> None:
    return None


@dataclass
class Runtime:
    """The running gateway's shared state; built once by the app factory."""

    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)
    metrics: Metrics = field(default_factory=Metrics)
    wake_outbox: Callable[[], None] = _nothing
