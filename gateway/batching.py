"""Group commit: requests that arrive while a transaction is running share the next one.

One writer at a time is SQLite's rule and a good habit on PostgreSQL too, but a transaction
per request makes every request pay for BEGIN, COMMIT and a handful of statements on its own.
A ``Batcher`` queues items and hands everything queued to one ``process`` call, which writes
them with one set of bulk statements in one transaction. A lone request goes through at once;
under load, batches grow by themselves. Callers still hear back only after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

Process = Callable[[Sequence[T]], Awaitable[Sequence[R | Exception]]]


class Batcher(Generic[T, R]):
    """Feeds queued items to ``process`` in groups of at most ``max_items``.

    ``process`` returns one result per item, or an exception for an item it refused without
    writing anything for it. If ``process`` itself raises (storage trouble), each item of the
    group is retried alone, so one bad item cannot fail the others.
    """

    def __init__(self, process: Process[T, R], max_items: int = 200) -> None:
        self._process = process
        self._max_items = max_items
        self._queue: asyncio.Queue[tuple[T, asyncio.Future[R]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._pending = 0
        self.idle = asyncio.Event()  # set while nothing is queued or being written
        self.idle.set()

    async def submit(self, item: T) -> R:
        """Process ``item`` (with whatever else is queued); returns after its commit."""
        if self._task is None or self._task.done():
            # The writer serves every caller: it must not inherit the first caller's context
            # (its request id would end up on everybody's log lines).
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="batcher", context=contextvars.Context()
            )
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending += 1
        self.idle.clear()
        self._queue.put_nowait((item, future))
        # A caller that goes away (client disconnect) does not unqueue its item: what was
        # accepted into the queue is written all the same.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        if not self._task.done():
            await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < self._max_items and not self._queue.empty():
                group.append(self._queue.get_nowait())
            await self._flush(group)
            for _ in group:
                self._queue.task_done()
            self._pending -= len(group)
            if not self._pending:
                self.idle.set()

    async def _flush(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._process([item for item, _ in group])
        # The boundary between the writer and its callers: whatever went wrong is handed to
        # the caller that owns the item, never swallowed and never allowed to stop the writer.
        except Exception as exc:  # noqa: BLE001 - delivered to the caller below
            if len(group) > 1:
                for one in group:
                    await self._flush([one])
                return
            results = [exc]
        for (_, future), result in zip(group, results, strict=True):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
