"""Slack click benchmark: signed ``block_actions`` acks through Bolt, against a bare aiohttp app.

Starts ``ackgate serve`` with Slack enabled (``config.example.toml`` plus a ``[slack]`` section
whose ``api_base_url`` is a fake Slack served by a child process of this script), seeds
incidents, waits until their cards are posted, then sends one signed Acknowledge click per
incident from ``--clients`` concurrent clients. The same client then hits a trivial aiohttp
handler (another child process) with the same requests, so the two p99s can be compared.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bench.action import seed
from bench.ingest import PayloadFactory, cpu_json, incident_total, report_stop, stop_json
from bench.server import (
    API_TOKEN,
    CONFIG,
    HOST,
    Gateway,
    banner,
    code_fingerprint,
    fmt_latency,
    free_port,
    latency_summary,
    show_log,
    write_result,
)
from tests.fakes.slack import API_PREFIX, FakeSlack

TOKEN = "xoxb-bench-token"
SECRET = "bench-signing-secret"
TEAM = "T1"
CHANNEL = "C0BENCH"
USER = "UALICE"
TARGET_P99_MS = 50.0
FORM = "application/x-www-form-urlencoded"
SERIALS = itertools.count(1)  # action_ts must differ between clicks, or the core dedupes them

SLACK_CONFIG = """
# --- added by bench/slack_ack.py ---
[slack]
bot_token = "{token}"
signing_secret = "{secret}"
api_base_url = "{api}"
workspace = "{team}"
thread_replies = {thread_replies}
dm_assignees = {dm_assignees}

[[members.alice.identities]]
platform = "slack"
workspace = "{team}"
user_id = "{user}"

[[services.default.notify]]
kind = "slack"
chat = "{channel}"
"""


# --- child processes: the fake Slack and the bare aiohttp app -------------------------------


def _serve(app: web.Application, port: int, ready: Event) -> None:
    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()
        ready.set()
        await asyncio.Event().wait()  # until the parent terminates this process

    asyncio.run(main())


def serve_fake_slack(port: int, ready: Event) -> None:
    """The fake Slack Web API, plus ``GET /stats`` for the parent to watch the outbox."""
    fake = FakeSlack(TOKEN, TEAM)
    fake.add_channel(CHANNEL)
    fake.add_user(USER, "alice@example.com")

    async def stats(_request: web.Request) -> web.Response:
        counts = Counter(call.method for call in fake.calls)
        posts = fake.posts()
        return web.json_response(
            {
                "calls": dict(counts),
                "posts": len(posts),
                "updated_cards": sum(1 for m in posts if m.updates),
                "thread_replies": len(fake.messages) - len(posts),
            }
        )

    fake.app.router.add_get("/stats", stats)
    _serve(fake.app, port, ready)


def serve_bare(port: int, ready: Event) -> None:
    """A trivial aiohttp handler: read the body, answer 200 with nothing."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hooks/slack", handle)
    _serve(app, port, ready)


@dataclass
class Child:
    """A child process serving one app on a free loopback port."""

    target: Callable[[int, Event], None]
    port: int = field(default_factory=free_port)
    proc: multiprocessing.process.BaseProcess | None = None

    def start(self, timeout_s: float = 30.0) -> None:
        """Spawn it and wait until it listens."""
        ctx = multiprocessing.get_context("spawn")
        ready = ctx.Event()
        self.proc = ctx.Process(target=self.target, args=(self.port, ready), daemon=True)
        self.proc.start()
        if not ready.wait(timeout_s):
            raise RuntimeError(f"{self.target.__name__} did not start within {timeout_s}s")

    def stop(self) -> None:
        """Terminate it."""
        if self.proc is not None and self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)

    @property
    def base(self) -> str:
        """Its base URL."""
        return f"http://{HOST}:{self.port}"


def write_config(tmp: Path, fake: Child, args: argparse.Namespace) -> Path:
    """config.example.toml with Slack enabled and pointed at the fake."""
    extra = SLACK_CONFIG.format(
        thread_replies=str(args.thread_replies).lower(),
        dm_assignees=str(args.dm_assignees).lower(),
        token=TOKEN,
        secret=SECRET,
        api=fake.base + API_PREFIX,
        team=TEAM,
        user=USER,
        channel=CHANNEL,
    )
    path = tmp / "slack-bench.toml"
    path.write_text(CONFIG.read_text() + extra)
    return path


# --- the clicks -------------------------------------------------------------------------------


def click(number: int, serial: int) -> tuple[bytes, dict[str, str]]:
    """A signed ``block_actions`` request pressing Acknowledge on incident ``number``."""
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM, "domain": "bench"},
        "user": {"id": USER, "username": "alice", "team_id": TEAM},
        "api_app_id": "A1",
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": CHANNEL},
        "trigger_id": f"{serial}.{serial}.bench",
        "channel": {"id": CHANNEL, "name": "incidents"},
        "message": {"type": "message", "ts": "1.000001", "text": "card"},
        "response_url": "https://hooks.slack.invalid/actions/T1/1/x",
        "actions": [
            {
                "type": "button",
                "action_id": "ackgate:ack",
                "block_id": "actions",
                "value": f"v1:ack:{number}",
                "action_ts": f"{1_700_000_000 + serial}.{serial:06d}",
            }
        ],
    }
    body = urlencode({"payload": json.dumps(payload)})
    timestamp = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=timestamp, body=body)
    headers = {
        "Content-Type": FORM,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": str(signature),
    }
    return body.encode(), headers


@dataclass
class Tally:
    """Round trips and answers of one phase (one event loop, so no locks)."""

    latency: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)


Request = tuple[str, bytes, dict[str, str]]  # url, body, headers


def slack_clicks(url: str, numbers: list[int]) -> Iterator[Request]:
    """Signed Acknowledge clicks, one per incident, each signed just before it is sent."""
    for serial, number in zip(SERIALS, numbers, strict=False):
        yield (url, *click(number, serial))


def rest_acks(base: str, numbers: list[int]) -> Iterator[Request]:
    """``POST /v1/incidents/{n}/actions {"verb": "ack"}`` as alice's API token."""
    headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
    for number in numbers:
        yield f"{base}/v1/incidents/{number}/actions", b'{"verb":"ack"}', headers


async def sender(session: aiohttp.ClientSession, todo: Iterator[Request], tally: Tally) -> None:
    """Send the next request until none are left."""
    for url, body, headers in todo:
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as r:
                text = await r.text()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            key = f"error:{type(exc).__name__}"
            tally.statuses[key] += 1
            tally.samples.setdefault(key, str(exc)[:300])
            continue
        tally.latency.append(time.perf_counter() - t0)
        tally.statuses[str(status)] += 1
        if status != 200:
            tally.samples.setdefault(str(status), text[:300])


async def load(todo: Iterator[Request], clients: int, timeout_s: float) -> tuple[Tally, float]:
    """Every request in ``todo`` from ``clients`` concurrent clients; the tally and seconds."""
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.perf_counter()
        await asyncio.gather(*(sender(session, todo, tally) for _ in range(clients)))
        return tally, time.perf_counter() - t0


async def fake_stats(session: aiohttp.ClientSession, fake: Child) -> dict[str, Any]:
    """What the fake Slack has seen so far."""
    async with session.get(fake.base + "/stats") as r:
        doc: dict[str, Any] = await r.json()
        return doc


async def wait_for_fake(
    fake: Child, done: Callable[[dict[str, Any]], bool], timeout_s: float
) -> tuple[dict[str, Any], float]:
    """Poll the fake every 20 ms until ``done(stats)``; the stats and the seconds it took."""
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while True:
            stats = await fake_stats(session, fake)
            if done(stats) or time.perf_counter() - t0 > timeout_s:
                return stats, time.perf_counter() - t0
            await asyncio.sleep(0.02)


# --- the run ----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    """The whole benchmark; returns the process exit code."""
    code = code_fingerprint()
    fake, bare = Child(serve_fake_slack), Child(serve_bare)
    gw = Gateway(db=args.db)
    problems: list[str] = []
    doc: dict[str, Any] = {}
    try:
        fake.start()
        bare.start()
        gw.config = write_config(gw.tmp, fake, args)
        start_s = await gw.start()
        print(
            f"ackgate serve pid {gw.pid} on {gw.base} (source {code}, {args.db}), Slack at "
            f"{fake.base}, bare aiohttp at {bare.base}; healthy after {start_s:.2f}s"
        )
        # One more for the warm-up click; a second set for the REST acks compared against.
        count = 2 * args.incidents + 1
        print(f"seeding {count} incidents ...", flush=True)
        numbers, seed_s, seed_statuses = await seed(
            gw, PayloadFactory(args.alerts), count, args.seed_clients
        )
        if len(numbers) != count:
            problems.append(f"seeding: {len(numbers)} of {count} incidents opened")
        # Every incident posts a card to the channel, and one to alice (level 1) by DM.
        per_incident = 2 if args.dm_assignees else 1
        cards = count * per_incident
        stats, posted_s = await wait_for_fake(fake, lambda s: s["posts"] >= cards, 120)
        print(
            f"seeded in {seed_s:.1f}s, answers {dict(seed_statuses)}; "
            f"{stats['posts']} cards posted {posted_s:.1f}s later"
        )
        if stats["posts"] < cards:
            problems.append(f"only {stats['posts']} of {cards} cards were posted")

        hook, bare_hook = f"{gw.base}/hooks/slack", f"{bare.base}/hooks/slack"
        warm, by_slack = numbers[:1], numbers[1 : args.incidents + 1]
        by_rest = numbers[args.incidents + 1 :]
        await load(slack_clicks(hook, warm), 1, args.timeout)  # Bolt's first call: auth.test
        await load(slack_clicks(bare_hook, warm), 1, args.timeout)

        print(f"slack: {len(by_slack)} signed ack clicks from {args.clients} clients ...")
        cpu0, server_cpu0 = time.process_time(), gw.cpu_s() or 0.0
        slack, slack_s = await load(slack_clicks(hook, by_slack), args.clients, args.timeout)
        cpu = cpu_json(slack_s, time.process_time() - cpu0, (gw.cpu_s() or 0.0) - server_cpu0)
        refreshed = (1 + len(by_slack)) * per_incident
        stats, refresh_s = await wait_for_fake(fake, lambda s: s["updated_cards"] >= refreshed, 120)
        print(f"rest: {len(by_rest)} REST acks (same gateway) from {args.clients} clients ...")
        rest, rest_s = await load(rest_acks(gw.base, by_rest), args.clients, args.timeout)
        await wait_for_fake(fake, lambda s: s["updated_cards"] >= cards, 120)
        print(f"bare aiohttp: {len(by_slack)} requests from {args.clients} clients ...")
        bare_tally, bare_s = await load(
            slack_clicks(bare_hook, by_slack), args.clients, args.timeout
        )

        async with aiohttp.ClientSession() as session:
            acked = await incident_total(session, gw.base, "&status=acknowledged")
        phases = {"slack": (slack, slack_s), "rest": (rest, rest_s), "bare": (bare_tally, bare_s)}
        lat = {name: latency_summary(t.latency) for name, (t, _) in phases.items()}
        labels = {"slack": "slack click", "rest": "REST ack", "bare": "bare aiohttp"}
        print()
        print(f"=== Slack ack clicks ({args.db}, {args.clients} clients) ===")
        for name, (tally, seconds) in phases.items():
            rate = len(tally.latency) / seconds
            print(f"{labels[name]:14s} {rate:6.0f}/s  {fmt_latency(lat[name])}")
        print(f"target          slack click p99 <= {TARGET_P99_MS:.0f} ms")
        print(
            f"cards refreshed {stats['updated_cards']} of {refreshed} "
            f"{refresh_s:.1f}s after the last click; Slack calls {stats['calls']}"
        )
        print(
            f"CPU (of one core) during the clicks: server {cpu['server_pct']:.0f}%, "
            f"load generator {cpu['client_pct']:.0f}%"
        )
        print(f"acknowledged    {acked} of {count} incidents")
        for name, (tally, _) in phases.items():
            for key, sample in tally.samples.items():
                print(f"  first {name} {key} body: {sample}")
            if set(tally.statuses) != {"200"}:
                problems.append(f"{name}: non-200 answers {dict(tally.statuses)}")
        if acked != count:
            banner(f"MISMATCH: {acked} incidents acknowledged, expected {count}")
            problems.append("ack count mismatch")
        if stats["updated_cards"] < refreshed:
            problems.append(f"only {stats['updated_cards']} of {refreshed} cards were updated")
        if lat["slack"]["p99_ms"] > TARGET_P99_MS:
            banner(f"p99 {lat['slack']['p99_ms']:.1f} ms is over the {TARGET_P99_MS:.0f} ms target")

        stop = gw.stop()
        if not report_stop("server", stop):
            problems.append("unclean stop")
        doc = {
            "params": vars(args),
            "seed": {"incidents": len(numbers), "seconds": round(seed_s, 3)},
            "cards_posted_after_s": round(posted_s, 3),
            **{
                name: {
                    "latency": lat[name],
                    "seconds": round(seconds, 3),
                    "statuses": dict(tally.statuses),
                }
                for name, (tally, seconds) in phases.items()
            },
            "target_p99_ms": TARGET_P99_MS,
            "cards_refreshed_after_s": round(refresh_s, 3),
            "fake_slack": stats,
            "acknowledged": acked,
            "cpu": cpu,
            "stop": stop_json(stop),
        }
    except BaseException as exc:  # also Ctrl-C: still stop everything below
        problems.append(f"benchmark failed: {exc!r}")
        banner(f"benchmark failed: {exc!r}")
        raise
    finally:
        gw.stop()
        fake.stop()
        bare.stop()
        log_bad = bool(gw.log_problems())
        if problems or log_bad:
            doc["server_log"] = show_log(gw, "; ".join(problems) or "warnings in log")
        doc["problems"] = problems
        if doc.get("params") is not None:
            print(f"result: {write_result('slack-ack', args.db, doc, code)}")
        keep = args.keep_tmp or bool(problems) or log_bad
        await gw.cleanup(keep_tmp=keep)
        if keep:
            print(f"kept temp dir (server log, config, SQLite file): {gw.tmp}")
    return 1 if problems else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.slack_ack", description=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument(
        "--incidents", type=int, default=1000, help="clicks (and REST acks), one per incident"
    )
    p.add_argument("--alerts", type=int, default=1, help="alerts per seeded incident (1)")
    p.add_argument("--clients", type=int, default=50, help="concurrent clicking clients (50)")
    p.add_argument("--seed-clients", type=int, default=20, help="concurrent seeding clients")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    p.add_argument(
        "--thread-replies",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="slack.thread_replies: a reply under each card per change (default on)",
    )
    p.add_argument(
        "--dm-assignees",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="slack.dm_assignees: the paged member gets the card by DM (default on)",
    )
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir and server log")
    args = p.parse_args(argv)
    if min(args.incidents, args.alerts, args.clients, args.seed_clients) <= 0:
        p.error("--incidents, --alerts, --clients and --seed-clients must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
