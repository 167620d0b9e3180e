"""Alert-storm benchmark: thousands of alerts into chat destinations whose fakes enforce the
platforms' published rate limits.

Starts ``ackgate serve`` with ``config.example.toml`` plus a Slack app channel, a Feishu
custom bot and a WeCom group bot on the default service, each pointed at a fake in a child
process that refuses what the real platform refuses (Slack: ~1 post a second per channel with
short bursts, i.e. 3 in any 3 s, and chat.update at 50 a minute; Feishu bot: 5 a second and
100 a minute; WeCom bot: 20 a minute). Then it sends ``--alerts`` Alertmanager alerts over
``--seconds`` across ``--keys`` alert groups (each group one incident) and waits until every
incident has been shown at every destination, as its own message or a line of a digest.

Reported: refusals by each fake (the goal is none), time from an incident's opening to its
first appearance at each destination, when the last one arrived, the server's peak RSS, and
the alerts per second that were sent and answered 2xx.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.ingest import INGEST_HEADERS, INTEGRATION, PayloadFactory, stop_json
from bench.server import (
    API_TOKEN,
    CONFIG,
    HOST,
    Gateway,
    banner,
    code_fingerprint,
    latency_summary,
    show_log,
    write_result,
)
from bench.slack_ack import Child
from tests.fakes.lark_bot import HOOK_PREFIX, FakeLarkBot
from tests.fakes.slack import API_PREFIX, FakeSlack
from tests.fakes.wecom_bot import PATH as WECOM_PATH
from tests.fakes.wecom_bot import FakeWecomBot

SLACK_TOKEN = "xoxb-storm-token"
SLACK_TEAM = "T1"
CHANNEL = "C0STORM"
LARK_TOKEN = "storm-lark-hook"
WECOM_KEY = "storm-wecom-key"
NUMBER = re.compile(rb"#(\d+)[ \\]")  # "#42 " in a card or a digest line (JSON-escaped)
API_HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}
TARGET_RSS_MB = 200.0

STORM_CONFIG = """
# --- added by bench/storm.py ---
[slack]
bot_token = "{slack_token}"
signing_secret = "storm-signing-secret"
api_base_url = "{slack_api}"
workspace = "{team}"

[[services.default.notify]]
kind = "slack"
chat = "{channel}"

[[services.default.notify]]
kind = "lark_bot"
url = "{lark_url}"
alias = "feishu-oncall"

[[services.default.notify]]
kind = "wecom_bot"
url = "{wecom_url}"
alias = "wecom-oncall"
"""


# --- the fakes, in a child process ------------------------------------------------------------


def _seen_middleware(
    name: str, seen: dict[str, dict[int, float]], accepted: Callable[[bytes], bool]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Record when each incident number first reached ``name`` in a request it accepted."""

    @web.middleware
    async def record(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        body = await request.read()
        response = await handler(request)
        answer = response.body if isinstance(response, web.Response) else None
        if isinstance(answer, bytes | bytearray) and accepted(bytes(answer)):
            now = time.time()
            first = seen.setdefault(name, {})
            for match in NUMBER.finditer(body):
                first.setdefault(int(match.group(1)), now)
        return response

    return record


def _ok(field: str, good: object) -> Callable[[bytes], bool]:
    def accepted(body: bytes) -> bool:
        try:
            return bool(json.loads(body).get(field) == good)
        except (ValueError, AttributeError):
            return False

    return accepted


def serve_fakes(port: int, ready: Any) -> None:
    """Slack, Feishu bot and WeCom bot fakes on one port, plus ``GET /stats``."""
    slack = FakeSlack(SLACK_TOKEN, SLACK_TEAM)
    slack.add_channel(CHANNEL)
    slack.limit("chat.postMessage", 3, 3.0)  # ~1 a second per channel, short bursts
    slack.limit("chat.update", 50, 60.0, per_channel=False)  # Tier 3
    lark = FakeLarkBot(LARK_TOKEN)  # 5 a second and 100 a minute, refused with 11232
    wecom = FakeWecomBot(WECOM_KEY)  # 20 a minute, refused with 45009
    seen: dict[str, dict[int, float]] = {}

    async def stats(_request: web.Request) -> web.Response:
        calls = Counter(call.method for call in slack.calls)
        return web.json_response(
            {
                "seen": {name: {str(n): at for n, at in s.items()} for name, s in seen.items()},
                "refused": {
                    "slack": slack.limited,
                    "lark_bot": len(lark.received) - len(lark.accepted),
                    "wecom_bot": len(wecom.received) - len(wecom.accepted),
                },
                "sent": {
                    "slack_posts": calls["chat.postMessage"],
                    "slack_updates": calls["chat.update"],
                    "lark_bot": len(lark.accepted),
                    "wecom_bot": len(wecom.accepted),
                },
            }
        )

    root = web.Application()
    root.router.add_get("/stats", stats)
    slack.app.middlewares.append(_seen_middleware("slack", seen, _ok("ok", True)))
    lark.app.middlewares.append(_seen_middleware("lark_bot", seen, _ok("code", 0)))
    wecom.app.middlewares.append(_seen_middleware("wecom_bot", seen, _ok("errcode", 0)))
    root.add_subapp("/slack", slack.app)
    root.add_subapp("/lark", lark.app)
    root.add_subapp("/wecom", wecom.app)

    async def main() -> None:
        runner = web.AppRunner(root, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, HOST, port).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def write_config(tmp: Path, fakes: Child) -> Path:
    """config.example.toml with the three destinations pointed at the fakes."""
    extra = STORM_CONFIG.format(
        slack_token=SLACK_TOKEN,
        slack_api=f"{fakes.base}/slack{API_PREFIX}",
        team=SLACK_TEAM,
        channel=CHANNEL,
        lark_url=f"{fakes.base}/lark{HOOK_PREFIX}{LARK_TOKEN}",
        wecom_url=f"{fakes.base}/wecom{WECOM_PATH}?key={WECOM_KEY}",
    )
    path = tmp / "storm-bench.toml"
    path.write_text(CONFIG.read_text() + extra)
    return path


# --- the storm --------------------------------------------------------------------------------


def schedule(alerts: int, keys: int, seed: int) -> list[int]:
    """Which group each alert belongs to, in sending order: every group fires within the
    first tenth of the storm (a storm opens its incidents fast), then they re-fire at random."""
    rng = random.Random(seed)
    opening = list(range(keys))
    rng.shuffle(opening)
    rest = [rng.randrange(keys) for _ in range(alerts - keys)]
    head = max(1, alerts // 10)
    early = opening + rest[: max(0, head - keys)]
    rng.shuffle(early)
    # keep each group's first alert inside the head
    return early + rest[max(0, head - keys) :]


async def storm(
    session: aiohttp.ClientSession,
    base: str,
    order: list[int],
    seconds: float,
    factory: PayloadFactory,
    clients: int,
) -> tuple[int, Counter[int], float]:
    """Send one single-alert payload per entry of ``order`` at an even pace; (2xx, statuses,
    elapsed)."""
    statuses: Counter[int] = Counter()
    gate = asyncio.Semaphore(clients)
    url = f"{base}/v1/alerts/{INTEGRATION}"
    t0 = time.perf_counter()
    step = seconds / len(order)

    async def one(i: int, group: int) -> None:
        delay = t0 + i * step - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = json.dumps(factory.payload(group)).encode()
        async with gate:
            try:
                async with session.post(url, data=body, headers=INGEST_HEADERS) as r:
                    await r.read()
                    statuses[r.status] += 1
            except aiohttp.ClientError:
                statuses[0] += 1

    await asyncio.gather(*(one(i, g) for i, g in enumerate(order)))
    elapsed = time.perf_counter() - t0
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return ok, statuses, elapsed


async def opened_at(session: aiohttp.ClientSession, base: str) -> dict[int, float]:
    """Every incident's number and when it opened (epoch seconds)."""
    found: dict[int, float] = {}
    offset = 0
    while True:
        async with session.get(
            f"{base}/v1/incidents?limit=200&offset={offset}", headers=API_HEADERS
        ) as r:
            doc = await r.json()
        items = doc["incidents"]
        for item in items:
            created = item["created_at"].replace("Z", "+00:00")
            found[int(item["number"])] = datetime.fromisoformat(created).timestamp()
        if len(items) < 200:
            return found
        offset += 200


async def run(args: argparse.Namespace) -> int:
    code_at_start = code_fingerprint()
    fakes = Child(serve_fakes)
    fakes.start()
    gw = Gateway(db=args.db)
    gw.tmp.mkdir(parents=True, exist_ok=True)
    gw.config = write_config(gw.tmp, fakes)
    factory = PayloadFactory(alerts=1)
    failed = False
    try:
        await gw.start()
        idle_rss = gw.rss_mb()
        order = schedule(args.alerts, args.keys, args.seed)
        connector = aiohttp.TCPConnector(limit=args.clients)
        async with aiohttp.ClientSession(connector=connector) as session:
            peak = 0.0
            stop_sampling = asyncio.Event()

            async def sample() -> None:
                nonlocal peak
                while not stop_sampling.is_set():
                    peak = max(peak, gw.rss_mb() or 0.0)
                    await asyncio.sleep(0.2)

            sampler = asyncio.create_task(sample())
            storm_start = time.time()
            ok, statuses, elapsed = await storm(
                session, gw.base, order, args.seconds, factory, args.clients
            )
            storm_end = time.time()
            incidents = await opened_at(session, gw.base)
            names = ("slack", "lark_bot", "wecom_bot")
            deadline = time.time() + args.drain_s
            stats: dict[str, Any] = {}
            while time.time() < deadline:
                async with session.get(f"{fakes.base}/stats") as r:
                    stats = await r.json()
                wanted = {str(n) for n in incidents}
                if all(wanted <= set(stats["seen"].get(name, {})) for name in names):
                    break
                await asyncio.sleep(0.5)
            stop_sampling.set()
            await sampler
            peak = max(peak, gw.peak_rss_mb() or 0.0)
        stop = gw.stop()
        seen = stats.get("seen", {})
        per_destination: dict[str, Any] = {}
        for name in names:
            first = {int(n): at for n, at in seen.get(name, {}).items()}
            waits = [first[n] - incidents[n] for n in incidents if n in first]
            missing = sorted(set(incidents) - set(first))
            last = max((first[n] for n in incidents if n in first), default=storm_start)
            per_destination[name] = {
                "notified": len(waits),
                "missing": len(missing),
                "time_to_notify": latency_summary([max(0.0, w) for w in waits]),
                "last_after_storm_end_s": round(last - storm_end, 2),
            }
            failed |= bool(missing)
        refused = stats.get("refused", {})
        failed |= any(refused.values()) or ok != len(order) or not stop.clean
        doc = {
            "alerts": len(order),
            "keys": args.keys,
            "seconds": args.seconds,
            "answered_2xx": ok,
            "statuses": {str(k): v for k, v in statuses.items()},
            "alerts_per_s": round(ok / elapsed, 1),
            "storm_s": round(elapsed, 2),
            "incidents": len(incidents),
            "refused_by_platform": refused,
            "sent": stats.get("sent", {}),
            "destinations": per_destination,
            "rss_mb": {"idle": round(idle_rss or 0, 1), "peak": round(peak, 1)},
            "target_peak_rss_mb": TARGET_RSS_MB,
            "stop": stop_json(stop),
        }
        print(json.dumps(doc, indent=2))
        if failed:
            doc["server_log"] = show_log(gw, "storm benchmark failed")
            banner("FAILED: see above")
        path = write_result("storm", args.db, doc, code_at_start)
        print(f"results: {path}")
    finally:
        await gw.cleanup(keep_tmp=failed or args.keep_tmp)
        fakes.stop()
    return 1 if failed else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--alerts", type=int, default=10_000)
    p.add_argument("--keys", type=int, default=500, help="alert groups, i.e. incidents")
    p.add_argument("--seconds", type=float, default=60.0, help="the storm's length")
    p.add_argument("--clients", type=int, default=20, help="concurrent senders")
    p.add_argument("--drain-s", type=float, default=300.0, help="how long to wait for notices")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--keep-tmp", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
