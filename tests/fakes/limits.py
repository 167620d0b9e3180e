"""Published rate limits for the fake platforms: sliding windows counted on a clock the test
gives (the gateway's manual clock, so that time moves only when the test moves it)."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable


class Limits:
    """Caps per kind of call (``count`` in any ``per_s`` seconds, several at once allowed),
    counted per key (a chat, a person, the app): ``take`` says whether one more call fits."""

    def __init__(self) -> None:
        self._caps: dict[str, list[tuple[int, float]]] = {}
        self._sent: dict[tuple[str, str], deque[float]] = {}
        self.clock: Callable[[], float] = time.monotonic
        self.refused = 0  # calls refused for going over a cap

    def add(self, kind: str, count: int, per_s: float) -> None:
        """At most ``count`` calls of ``kind`` for one key in any ``per_s`` seconds."""
        self._caps.setdefault(kind, []).append((count, per_s))

    def take(self, kind: str, key: str) -> int | None:
        """Seconds to wait (at least 1) when one more call of ``kind`` for ``key`` would go
        over a cap now, and it is not counted; None when it fits, and it is counted."""
        caps = self._caps.get(kind)
        if not caps:
            return None
        now = self.clock()
        sent = self._sent.setdefault((kind, key), deque())
        longest = max(per_s for _, per_s in caps)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        wait_s = 0.0
        for count, per_s in caps:
            inside = [at for at in sent if at > now - per_s]
            if len(inside) >= count:
                wait_s = max(wait_s, inside[-count] + per_s - now)
        if wait_s > 0:
            self.refused += 1
            return max(1, math.ceil(wait_s))
        sent.append(now)
        return None
