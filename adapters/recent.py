"""Ids a platform sent lately, so a request it sends again (or someone replays) runs once.

In memory is enough: an action's durable idempotency is its callback id in the core; this
only spares a repeat the work before it (decrypting, rendering, answering in the chat).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class Recent(Generic[K]):
    """The last ``size`` ids seen, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._seen: OrderedDict[K, None] = OrderedDict()

    def claim(self, key: K) -> bool:
        """Whether ``key`` is new; remembered from now on either way."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True

    def forget(self, key: K) -> None:
        """Let ``key`` run again (its handling failed before it changed anything)."""
        self._seen.pop(key, None)

    @contextmanager
    def running(self, key: K | None) -> Iterator[bool]:
        """Yields whether ``key`` is new (no key: always); forgotten if the block fails, so
        the platform's retry runs."""
        if key is None or key == "":
            yield True
            return
        fresh = self.claim(key)
        try:
            yield fresh
        except BaseException:
            if fresh:
                self.forget(key)
            raise
