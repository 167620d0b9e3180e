"""The outbox dispatcher: claims due deliveries, hands them to senders, records what happened."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncConnection

from gateway import messages
from gateway.clock import Clock
from gateway.config import OutboxSettings
from gateway.domain import JSONObject
from gateway.errors import PlatformError, RateLimited, Rejected, Unavailable
from gateway.metrics import Metrics
from storage import repo
from storage.engine import Database

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 1000
# Sends run this many at a time, so a big batch never holds the event loop for long.
SEND_CHUNK = 10
# A digest lists at most this many notices: a chat message must stay readable, and every
# incident in it must fit (a WeCom text message is 2,048 bytes).
DIGEST_MAX = 25


# Called, in the transaction that records them, with each card just posted and the payload
# it showed; returns whether it wrote more deliveries (the card must catch up).
OnPosted = Callable[
    [AsyncConnection, Sequence[tuple[JSONObject, JSONObject]], datetime], Awaitable[bool]
]
# Called, in the same transaction, with the deliveries to people that failed for good
# (delivery id, incident, channel, destination, payload, error); returns whether it wrote more.
OnFailed = Callable[
    [AsyncConnection, Sequence[tuple[int, int, str, JSONObject, JSONObject, str]], datetime],
    Awaitable[bool],
]


@dataclass(frozen=True, slots=True)
class Job:
    """One claimed delivery handed to a sender."""

    delivery_id: int
    incident_id: int
    channel: str
    destination: JSONObject
    payload: JSONObject
    attempt: int  # 1-based
    # Deliveries merged into this one (a digest): they share its outcome.
    merged: tuple[Job, ...] = ()


@dataclass(frozen=True, slots=True)
class Pace:
    """A destination's published cap: at most ``count`` sends per ``per_s`` seconds."""

    key: str  # what shares the cap, e.g. the bot's destination
    count: int
    per_s: float


@runtime_checkable
class Paced(Protocol):
    """A sender whose destinations have a cap; past it, notices are merged into a digest."""

    def pace(self, destination: JSONObject) -> Pace | None:
        """The cap that ``destination`` is under, if any."""
        ...


@dataclass(frozen=True, slots=True)
class SendResult:
    """What a successful send returns: where the message landed, to update it later.

    A chat sender that posted a card returns the chat it is in (``chat_id``: for a direct
    message, the conversation, not the user) and the message's id (``message_ref``).
    """

    message_ref: str | None = None
    chat_id: str | None = None


class Sender(Protocol):
    """Sends a job to one channel; raises a PlatformError subclass when it fails."""

    channel: str

    async def send(self, job: Job) -> SendResult:
        """Deliver ``job`` once."""
        ...


@dataclass(frozen=True, slots=True)
class _Outcome:
    job: Job
    lease_until: datetime
    started_at: datetime
    duration_s: float
    result: SendResult | None = None
    error: PlatformError | None = None


class Dispatcher:
    """Runs the outbox: claim a batch, send it concurrently, record every result."""

    def __init__(
        self,
        db: Database,
        senders: Mapping[str, Sender],
        settings: OutboxSettings,
        clock: Clock,
        metrics: Metrics,
        *,
        worker_id: str = "",
        on_posted: OnPosted | None = None,
        on_failed: OnFailed | None = None,
        yield_to: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._db = db
        self._on_posted = on_posted
        self._on_failed = on_failed
        self._yield_to = yield_to
        self._senders = senders
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._worker_id = worker_id
        self._woken = asyncio.Event()
        self._sent: dict[str, deque[float]] = {}  # per capped destination: recent send times

    def wake(self) -> None:
        """New work was written: run soon instead of after ``poll_interval_s``."""
        self._woken.set()

    async def run(self) -> None:
        """Dispatch until cancelled; an unexpected error is logged and the loop goes on."""
        while True:
            # Cleared before the batch, so a wake() that arrives during it is not lost.
            self._woken.clear()
            try:
                claimed = await self.run_once()
            # The outbox must outlive any one bad batch (database restart, a bug in a row);
            # the leases it took expire and the rows are claimed again.
            except Exception:
                log.exception("outbox worker %s: batch failed", self._worker_id or "-")
                claimed = 0
            if not claimed:
                await self._idle()

    async def run_once(self) -> int:
        """Claim one batch, send it, record the results; returns how many were claimed."""
        if self._yield_to is not None:
            await self._yield_to()
        claimed = await self._claim()
        if not claimed:
            return 0
        lease_until, claimed_jobs = claimed
        jobs, held = self._pace(claimed_jobs)
        if held:
            await self._hold(held)
        outcomes: list[_Outcome] = []
        for start in range(0, len(jobs), SEND_CHUNK):
            if start and self._yield_to is not None:
                await self._yield_to()  # let requests that arrived meanwhile go first
            chunk = jobs[start : start + SEND_CHUNK]
            outcomes.extend(await asyncio.gather(*(self._attempt(j, lease_until) for j in chunk)))
        if outcomes:
            await self._record(outcomes)
        return len(claimed_jobs)

    def _pace(self, jobs: Sequence[Job]) -> tuple[list[Job], list[tuple[Job, datetime]]]:
        """Keep every capped destination within its cap: what to send now (a burst past the
        cap merged into one digest), and what waits until the cap allows (with when)."""
        now = self._clock.now().timestamp()
        groups: dict[str, list[Job]] = {}
        paces: dict[str, Pace] = {}
        ready: list[Job] = []
        for job in jobs:
            sender = self._senders.get(job.channel)
            pace = sender.pace(job.destination) if isinstance(sender, Paced) else None
            if pace is None:
                ready.append(job)
                continue
            paces[pace.key] = pace
            groups.setdefault(pace.key, []).append(job)
        held: list[tuple[Job, datetime]] = []
        for key, group in groups.items():
            pace = paces[key]
            window = self._sent.setdefault(key, deque())
            while window and window[0] <= now - pace.per_s:
                window.popleft()
            free = pace.count - len(window)
            if free <= 0:
                until = datetime.fromtimestamp(window[0] + pace.per_s, tz=UTC)
                held.extend((job, until) for job in group)
                continue
            if len(group) > free:
                # What fits goes alone; then one digest of what fits in a readable message;
                # anything past that waits for the next free slot.
                merged = group[free - 1 : free - 1 + DIGEST_MAX]
                rest = group[free - 1 + DIGEST_MAX :]
                group = [*group[: free - 1], _digest(merged) if len(merged) > 1 else merged[0]]
                soon = datetime.fromtimestamp(now + pace.per_s / pace.count, tz=UTC)
                held.extend((job, soon) for job in rest)
            window.extend([now] * len(group))
            ready.extend(group)
        return ready, held

    async def _hold(self, held: Sequence[tuple[Job, datetime]]) -> None:
        """Put jobs back, unsent and uncounted, until their destination's cap allows."""
        async with self._db.write() as conn:
            for job, until in held:
                await repo.release_delivery(conn, job.delivery_id, job.attempt, until)

    async def _idle(self) -> None:
        try:
            async with asyncio.timeout(self._settings.poll_interval_s):
                await self._woken.wait()
        except TimeoutError:
            pass

    async def _claim(self) -> tuple[datetime, list[Job]] | None:
        async with self._db.write() as conn:
            now = self._clock.now()
            lease_until = now + timedelta(seconds=self._settings.lease_s)
            rows = await repo.claim_deliveries(conn, now, lease_until, self._settings.batch_size)
        if not rows:
            return None
        jobs = [
            Job(
                delivery_id=row["id"],
                incident_id=row["incident_id"],
                channel=row["channel"],
                destination=dict(row["destination"] or {}),
                payload=dict(row["payload"] or {}),
                attempt=row["attempts"],
            )
            for row in rows
        ]
        return lease_until, jobs

    async def _attempt(self, job: Job, lease_until: datetime) -> _Outcome:
        started_at = self._clock.now()
        # Durations come from the monotonic clock: the injectable one tells the time of day.
        started = time.perf_counter()

        def done(result: SendResult | None = None, error: PlatformError | None = None) -> _Outcome:
            return _Outcome(
                job, lease_until, started_at, time.perf_counter() - started, result, error
            )

        sender = self._senders.get(job.channel)
        if sender is None:
            return done(error=Rejected(f"no sender for channel {job.channel}", code="no_sender"))
        timeout_s = self._settings.send_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                result = await sender.send(job)
        except PlatformError as exc:
            outcome = done(error=exc)
        except TimeoutError:
            outcome = done(error=Unavailable(f"no answer within {timeout_s:g}s"))
        # A sender's bug must not take the rest of the batch down with it; the delivery is
        # retried like any transient failure and the traceback is logged here, once.
        except Exception as exc:
            log.exception("sender for %s raised on delivery %s", job.channel, job.delivery_id)
            outcome = done(error=Unavailable(repr(exc)))
        else:
            outcome = done(result=result)
        self._metrics.delivery_seconds.labels(job.channel).observe(outcome.duration_s)
        return outcome

    async def _record(self, sent: Sequence[_Outcome]) -> None:
        # A digest's outcome is every merged delivery's outcome.
        outcomes = [o for s in sent for o in (s, *(replace(s, job=m) for m in s.job.merged))]
        changed: list[tuple[_Outcome, str, float]] = []
        cards: list[tuple[JSONObject, JSONObject]] = []
        caught_up = False
        warned: set[tuple[int, str]] = set()
        failures: list[JSONObject] = []
        refs: list[JSONObject] = []
        lost: list[tuple[int, int, str, JSONObject, JSONObject, str]] = []
        async with self._db.write() as conn:
            now = self._clock.now()
            await repo.add_attempts(
                conn,
                [
                    {
                        "delivery_id": o.job.delivery_id,
                        "at": o.started_at,
                        "ok": o.error is None,
                        "error": None if o.error is None else _describe(o.error),
                        "duration_ms": o.duration_s * 1000,
                    }
                    for o in outcomes
                ],
            )
            decided = [(o, *self._next_state(o, now)) for o in outcomes]
            # Only our own claim may be settled: if the lease ran out and another worker
            # took a row, its result wins and this one is just history.
            settled = await repo.settle_deliveries(
                conn,
                outcomes[0].lease_until,
                [(o.job.delivery_id, o.job.attempt, values) for o, _, _, values in decided],
            )
            for o, state, delay_s, _values in decided:
                if o.job.delivery_id not in settled:
                    log.warning(
                        "delivery %s: lease lost before its result was recorded", o.job.delivery_id
                    )
                    continue
                changed.append((o, state, delay_s))
                if state == "failed":
                    # People reading the incident should see that a notice never arrived.
                    failures.append(_failure_entry(o, now))
                    if o.job.destination.get("member"):
                        lost.append(
                            (
                                o.job.delivery_id,
                                o.job.incident_id,
                                o.job.channel,
                                o.job.destination,
                                o.job.payload,
                                _describe(o.error) if o.error else "",
                            )
                        )
                warning = o.job.payload.get("template_error") if o.error is None else None
                if warning and (o.job.incident_id, warning) not in warned:
                    warned.add((o.job.incident_id, warning))
                    failures.append(_template_entry(o, str(warning), now))
                posted = _posted_card(o, now)
                if posted is not None:
                    refs.append(posted)
                    cards.append((posted, o.job.payload))
            await repo.add_timeline(conn, failures)
            await repo.add_message_refs(conn, refs)
            if cards and self._on_posted is not None:
                caught_up = await self._on_posted(conn, cards, now)
            if lost and self._on_failed is not None:
                caught_up = await self._on_failed(conn, lost, now) or caught_up
        for o, state, delay_s in changed:
            self._report(o, state, delay_s)
        if caught_up:
            self.wake()

    def _next_state(self, o: _Outcome, now: datetime) -> tuple[str, float, JSONObject]:
        """``(metric state, retry delay, column values)`` for one outcome."""
        if o.error is None:
            ref = o.result.message_ref if o.result else None
            values = {"state": "sent", "message_ref": ref, "sent_at": now, "last_error": None}
            return "sent", 0.0, {**values, "lease_until": None}
        values = {"lease_until": None, "last_error": _describe(o.error)}
        if not o.error.retryable or o.job.attempt >= self._settings.max_attempts:
            return "failed", 0.0, {**values, "state": "failed"}
        delay_s = self._backoff_s(o.job.attempt, o.error)
        due_at = now + timedelta(seconds=delay_s)
        return "retry", delay_s, {**values, "state": "pending", "due_at": due_at}

    def _backoff_s(self, attempt: int, error: PlatformError) -> float:
        """Full jitter (uniform up to an exponential cap), but never sooner than Retry-After."""
        s = self._settings
        cap = min(s.max_delay_s, s.base_delay_s * 2.0 ** min(attempt - 1, 64))
        delay = random.uniform(0, cap)  # noqa: S311 - spreading retries, not a secret
        if isinstance(error, RateLimited):
            delay = max(delay, error.retry_after_s)
        return delay

    def _report(self, o: _Outcome, state: str, delay_s: float) -> None:
        job = o.job
        self._metrics.deliveries.labels(job.channel, state).inc()
        to = job.destination.get("alias") or job.destination.get("ref") or ""
        where = f"{job.channel} ({to})" if to else job.channel
        if o.error is None:
            log.info("delivery %s to %s sent", job.delivery_id, where)
            return
        why = _describe(o.error)
        if state == "retry":
            log.info(
                "delivery %s to %s: attempt %s failed, next in %.1fs: %s",
                job.delivery_id,
                where,
                job.attempt,
                delay_s,
                why,
            )
        else:
            log.warning("delivery %s to %s failed for good: %s", job.delivery_id, where, why)


def _failure_entry(o: _Outcome, now: datetime) -> JSONObject:
    """The timeline row saying a notice failed for good (no URL: it may hold a token)."""
    return {
        "incident_id": o.job.incident_id,
        "at": now,
        "kind": "delivery_failed",
        "actor": None,
        "source": o.job.channel,
        "data": {
            "delivery": o.job.delivery_id,
            "error": _describe(o.error) if o.error else "",
            "attempts": o.job.attempt,
            **(
                {"destination": o.job.destination["alias"]}
                if o.job.destination.get("alias")
                else {}
            ),
        },
    }


def _digest(jobs: Sequence[Job]) -> Job:
    """One job that sends ``jobs``' messages together, under the first one's delivery."""
    first = jobs[0]
    payload: JSONObject = {
        "event_id": first.payload.get("event_id"),
        "event": "incident.digest",
        "headline": messages.text("bot_digest", count=len(jobs)),
        "digest": [job.payload.get("message") for job in jobs],
    }
    return replace(first, payload=payload, merged=tuple(jobs[1:]))


def _template_entry(o: _Outcome, error: str, now: datetime) -> JSONObject:
    """The timeline row saying a service template failed and the built-in wording was used."""
    return {
        "incident_id": o.job.incident_id,
        "at": now,
        "kind": "template_failed",
        "actor": None,
        "source": o.job.channel,
        "data": {"error": error},
    }


def _posted_card(o: _Outcome, now: datetime) -> JSONObject | None:
    """A new card in a chat, to be kept up to date from now on (None for anything else)."""
    result, job = o.result, o.job
    if result is None or not result.chat_id or not result.message_ref:
        return None
    if job.payload.get("op") != "post":
        return None
    return {
        "incident_id": job.incident_id,
        "platform": job.channel,
        "chat_id": result.chat_id,
        "message_id": result.message_ref,
        "member": job.destination.get("member"),
        "delivery_id": job.delivery_id,
        "created_at": now,
    }


def _describe(error: PlatformError) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
