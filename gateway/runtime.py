"""What every request handler and background job shares: settings, database, clock, metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.batching import Batcher, Process
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
    _batchers: dict[str, Batcher[Any, Any]] = field(default_factory=dict)

    def batcher(self, name: str, process: Process[Any, Any]) -> Batcher[Any, Any]:
        """The group-commit writer called ``name``, made on first use."""
        found = self._batchers.get(name)
        if found is None:
            found = self._batchers[name] = Batcher(process)
        return found

    async def quiet(self, max_wait_s: float) -> None:
        """Wait until no request is being written, or ``max_wait_s`` at most.

        Background work calls this first, so people's clicks and alerts are answered before
        notices are rendered and sent; the bound keeps notices moving under constant load.
        """
        waits = [b.idle.wait() for b in self._batchers.values() if not b.idle.is_set()]
        if not waits:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_wait_s):
                await asyncio.gather(*waits)

    async def close(self) -> None:
        """Finish queued writes and stop the writers."""
        for batcher in self._batchers.values():
            await batcher.close()
