"""The outbox dispatcher: claims due deliveries, hands them to senders, records what happened."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
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
# A digest card (a chat app's storm card) lists at most this many incidents, and takes more
# while it is younger than this; after that a new one starts.
CARD_DIGEST_MAX = 50
CARD_DIGEST_OPEN_S = 600.0
# A send counts against its cap a tenth longer than the published window, so that requests
# that take different times on the way never arrive closer together than the cap allows.
PACE_MARGIN = 1.1


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

    @property
    def lang(self) -> str:
        """What the notice is worded in (the core decides: its reader's language)."""
        lang = self.payload.get("lang")
        return lang if lang in ("en", "zh") else "en"


@dataclass(frozen=True, slots=True)
class Cap:
    """A cap that sends to many destinations share, e.g. a Telegram bot's 30 a second."""

    key: str
    count: int
    per_s: float


@dataclass(frozen=True, slots=True)
class Pace:
    """A destination's published cap: at most ``count`` sends per ``per_s`` seconds.

    What the cap doesn't let through now waits for it. ``digest_after`` says what else:
    ``0`` merges the overflow into one digest message at once (group bots: a notice there is
    a message, not something to click); ``N`` lets up to N cards wait for their own turn and,
    past that (a storm), puts the waiting cards into one digest card that later ones are
    added to in place (chat apps); ``None`` never merges (card updates, thread replies).
    """

    key: str  # what shares the cap, e.g. the bot's destination or the chat
    count: int
    per_s: float
    digest_after: int | None = 0
    # A second, shorter cap on the same sends, e.g. Feishu's 5 a second beside 100 a minute.
    burst: tuple[int, float] | None = None
    # Caps shared with other destinations that each send also counts against (what does not
    # fit them waits; nothing is merged for them).
    shared: tuple[Cap, ...] = ()


@runtime_checkable
class Paced(Protocol):
    """A sender whose destinations have caps, shared by every replica through the database."""

    def pace(self, job: Job) -> Pace | None:
        """The cap that sending ``job`` counts against, if any."""
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
        jobs = await self._pace(claimed_jobs)
        outcomes: list[_Outcome] = []
        for start in range(0, len(jobs), SEND_CHUNK):
            if start and self._yield_to is not None:
                await self._yield_to()  # let requests that arrived meanwhile go first
            chunk = jobs[start : start + SEND_CHUNK]
            outcomes.extend(await asyncio.gather(*(self._attempt(j, lease_until) for j in chunk)))
        if outcomes:
            await self._record(outcomes)
        return len(claimed_jobs)

    async def _pace(self, jobs: Sequence[Job]) -> list[Job]:
        """Keep every capped destination within its cap, counting what every replica sent:
        returns what to send now (overflow merged into digests where the cap says so); the
        rest goes back, unsent and uncounted, due when the cap allows."""
        groups: dict[str, list[Job]] = {}
        paces: dict[str, Pace] = {}
        ready: list[Job] = []
        for job in jobs:
            sender = self._senders.get(job.channel)
            pace = sender.pace(job) if isinstance(sender, Paced) else None
            if pace is None:
                ready.append(job)
                continue
            paces[pace.key] = pace
            groups.setdefault(pace.key, []).append(job)
        if not groups:
            return ready
        shared = {cap.key: cap for pace in paces.values() for cap in pace.shared}
        async with self._db.write() as conn:
            now = self._clock.now().timestamp()
            windows = await repo.load_paces(conn, sorted({*groups, *shared}))
            # Where notices are merged, what else waits (due now, or held back by the cap)
            # tells a burst from a few notices.
            merging = {g[0].channel for k, g in groups.items() if paces[k].digest_after == 0}
            waiting = await repo.waiting_by_channel(conn, sorted(merging))
            held: list[tuple[Job, float]] = []
            for key, group in groups.items():
                window = windows.setdefault(key, repo.PaceWindow())
                behind = waiting.get(group[0].channel, 0)
                pace = paces[key]
                plan = _plan(pace, group, window, now, behind)
                for job in plan.send:
                    # Every shared cap must have room too, or the send waits for it.
                    also = [(windows.setdefault(c.key, repo.PaceWindow()), c) for c in pace.shared]
                    for w, c in also:
                        _trim(w, c.per_s, now)
                    rooms = [_room(w, c.count, c.per_s, now) for w, c in also]
                    if any(left <= 0 for left, _ in rooms):
                        held.append((job, max(at for _, at in rooms)))
                        continue
                    for w, _ in also:
                        w.sent.append(now)
                    window.sent.append(now)
                    ready.append(job)
                held.extend(plan.held)
            for job, until in held:
                due = datetime.fromtimestamp(until, tz=UTC)
                for one in (job, *job.merged):  # a digest goes back as what it merged
                    await repo.release_delivery(conn, one.delivery_id, one.attempt, due)
            await repo.save_paces(conn, windows)
        return ready

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
        # A digest's outcome is every merged delivery's outcome (but its message is nobody's
        # card: the digest's own job records where it is).
        outcomes = [
            o for s in sent for o in (s, *(replace(s, job=m, result=None) for m in s.job.merged))
        ]
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
            await repo.set_pace_digests(conn, _digest_cards(changed, now))
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


def _room(window: repo.PaceWindow, count: int, per_s: float, now: float) -> tuple[int, float]:
    """Sends left under a cap of ``count`` per ``per_s`` seconds, given those ``window`` holds
    (which must be sorted), and when the next one frees up (``now`` while one is free)."""
    span = per_s * PACE_MARGIN
    inside = [s for s in window.sent if s > now - span]
    left = count - len(inside)
    return left, now if left > 0 else inside[-left] + span


def _trim(window: repo.PaceWindow, per_s: float, now: float) -> None:
    """Keep, sorted, only the sends still inside the window (and its margin)."""
    window.sent = sorted(s for s in window.sent if s > now - per_s * PACE_MARGIN)


@dataclass(slots=True)
class _Plan:
    send: list[Job] = field(default_factory=list)
    held: list[tuple[Job, float]] = field(default_factory=list)  # with when (epoch seconds)


def _plan(
    pace: Pace, group: Sequence[Job], window: repo.PaceWindow, now: float, behind: int = 0
) -> _Plan:
    """What of ``group`` goes now and what waits, given what the window holds already
    (and, where notices merge, how many more are waiting beyond this batch: ``behind``)."""
    caps = [(pace.count, pace.per_s), *([pace.burst] if pace.burst else [])]
    _trim(window, max(per_s for _, per_s in caps), now)
    rooms = [_room(window, count, per_s, now) for count, per_s in caps]
    free = min(left for left, _ in rooms)  # sends left under every cap
    free_at = max(at for _, at in rooms)  # when one frees up under all of them
    soon = now + max(per_s * PACE_MARGIN / count for count, per_s in caps)  # the next slot
    if free <= 0:
        return _Plan(held=[(job, free_at) for job in group])
    burst = len(group) + behind if pace.digest_after == 0 else len(group)
    if burst <= free:
        return _Plan(send=list(group))
    # A storm in a chat is told by its new cards waiting, not by updates and replies.
    waiting_cards = sum(1 for job in group if job.payload.get("op") == "post")
    if pace.digest_after is None or 0 < pace.digest_after >= waiting_cards:
        return _Plan(send=list(group[:free]), held=[(job, soon) for job in group[free:]])
    if pace.digest_after == 0:
        # The free slots must carry the whole burst (this batch and what waits behind it):
        # as many notices alone as leave room for the rest in digests of at most DIGEST_MAX,
        # shared evenly; past that, they wait for a slot.
        alone = max(0, min(free - 1, (DIGEST_MAX * free - burst) // (DIGEST_MAX - 1)))
        alone = min(alone, len(group))
        slots = free - alone
        size = min(DIGEST_MAX, -(-(burst - alone) // slots))
        merged = group[alone : alone + slots * size]
        chunks = [merged[i : i + size] for i in range(0, len(merged), size)]
        digests = [_digest(chunk) if len(chunk) > 1 else chunk[0] for chunk in chunks]
        held = group[alone + len(merged) :]
        return _Plan(send=[*group[:alone], *digests], held=[(job, soon) for job in held])
    # A storm in a chat: its new cards go into one digest card, which is added to in place
    # while it is young and has room; cards of other kinds (replies) wait their turn.
    cards = [job for job in group if job.payload.get("op") == "post"]
    others = [job for job in group if job.payload.get("op") != "post"]
    digest = window.digest
    items: list[JSONObject] = []
    if (
        digest is not None
        and float(digest.get("at", 0)) > now - CARD_DIGEST_OPEN_S
        and len(digest.get("items", ())) < CARD_DIGEST_MAX
    ):
        items = list(digest["items"])
    else:
        digest = None
    taken = cards[: CARD_DIGEST_MAX - len(items)]
    plan = _Plan(held=[(job, soon) for job in cards[len(taken) :]])
    if taken:
        plan.send.append(_digest_card(pace.key, taken, items, digest))
    room = free - len(plan.send)
    plan.send.extend(others[:room])
    plan.held.extend((job, soon) for job in others[room:])
    return plan


def _digest_card(
    key: str, jobs: Sequence[Job], earlier: Sequence[JSONObject], digest: JSONObject | None
) -> Job:
    """One job that shows ``jobs``' incidents (after ``earlier`` ones) in one digest card,
    posted anew or, when ``digest`` is given, replacing that card's content."""
    first = jobs[0]
    items = [*earlier, *(_card_item(job) for job in jobs)]
    payload: JSONObject = {
        "event_id": first.payload.get("event_id"),
        "lang": first.lang,
        "op": "digest",
        "event": "incident.digest",
        "pace": key,
        "items": items,
        "opened": digest.get("at") if digest is not None else None,
        "open_min": int(CARD_DIGEST_OPEN_S // 60),  # how long it takes more, as it says
    }
    destination = dict(first.destination)
    if digest is not None:
        destination.update(chat=digest.get("chat"), message=digest.get("message"))
    return replace(first, destination=destination, payload=payload, merged=tuple(jobs[1:]))


def _card_item(job: Job) -> JSONObject:
    """One incident's line in a digest card: what a reader needs to pick it out."""
    incident = job.payload.get("incident")
    card = incident if isinstance(incident, dict) else {}
    return {
        "number": card.get("number", job.incident_id),
        "title": card.get("title", ""),
        "severity": card.get("severity", ""),
        "url": job.payload.get("url"),
    }


def _digest_cards(
    changed: Sequence[tuple[_Outcome, str, float]], now: datetime
) -> dict[str, JSONObject]:
    """The digest cards just posted or updated, to be added to while they are young."""
    posted: dict[str, JSONObject] = {}
    for o, state, _ in changed:
        payload = o.job.payload
        if state != "sent" or payload.get("op") != "digest":
            continue
        result = o.result or SendResult()
        dest = o.job.destination
        posted[str(payload["pace"])] = {
            "chat": result.chat_id or dest.get("chat"),
            "message": result.message_ref or dest.get("message"),
            "items": payload.get("items", []),
            "at": payload.get("opened") or now.timestamp(),
        }
    return posted


def _digest(jobs: Sequence[Job]) -> Job:
    """One job that sends ``jobs``' messages together, under the first one's delivery."""
    first = jobs[0]
    payload: JSONObject = {
        "event_id": first.payload.get("event_id"),
        "lang": first.lang,
        "event": "incident.digest",
        "headline": messages.text("bot_digest", first.lang, count=len(jobs)),
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
