"""REST action benchmark: ack-then-close round trips on distinct incidents, concurrent clients."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.ingest import (
    API_HEADERS,
    INGEST_HEADERS,
    INTEGRATION,
    PayloadFactory,
    cpu_json,
    incident_total,
    report_stop,
    stop_json,
)
from bench.server import (
    Gateway,
    banner,
    code_fingerprint,
    fmt_latency,
    latency_summary,
    show_log,
    write_result,
)

VERBS = ("ack", "close")
ACTION_HEADERS = {**API_HEADERS, "Content-Type": "application/json"}
VERB_BODIES = {verb: json.dumps({"verb": verb}).encode() for verb in VERBS}


async def seed(
    gw: Gateway, factory: PayloadFactory, count: int, clients: int
) -> tuple[list[int], float, Counter[str]]:
    """Open ``count`` incidents (one new group per payload); their numbers, seconds, statuses."""
    url = f"{gw.base}/v1/alerts/{INTEGRATION}"
    numbers: list[int] = []
    statuses: Counter[str] = Counter()
    todo = iter(range(count))
    t0 = time.perf_counter()

    async def one_client(session: aiohttp.ClientSession) -> None:
        for group in todo:
            async with session.post(url, data=factory.body(group), headers=INGEST_HEADERS) as r:
                statuses[str(r.status)] += 1
                if 200 <= r.status < 300:
                    numbers.extend((await r.json())["opened"])

    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(one_client(session) for _ in range(clients)))
    return numbers, time.perf_counter() - t0, statuses


@dataclass
class Tally:
    """Per-verb outcomes of the action phase (one event loop, so no locks)."""

    latency: dict[str, list[float]] = field(default_factory=lambda: {v: [] for v in VERBS})
    ok: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)  # "ack 200", "close error:..."
    codes: Counter[str] = field(default_factory=Counter)  # "ack ok/changed", "close repeat"
    samples: dict[str, str] = field(default_factory=dict)
    incidents_done: int = 0


async def act(
    session: aiohttp.ClientSession, base: str, number: int, verb: str, tally: Tally
) -> bool:
    """One POST /v1/incidents/{number}/actions; True on a 2xx answer."""
    t0 = time.perf_counter()
    try:
        async with session.post(
            f"{base}/v1/incidents/{number}/actions", data=VERB_BODIES[verb], headers=ACTION_HEADERS
        ) as r:
            text = await r.text()
            status = r.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        key = f"{verb} error:{type(exc).__name__}"
        tally.statuses[key] += 1
        tally.samples.setdefault(key, str(exc)[:300])
        return False
    tally.latency[verb].append(time.perf_counter() - t0)
    tally.statuses[f"{verb} {status}"] += 1
    if not 200 <= status < 300:
        tally.samples.setdefault(f"{verb} {status}", text[:300])
        return False
    tally.ok[verb] += 1
    try:
        doc = json.loads(text)
        tally.codes[f"{verb} {doc.get('code')}/{'changed' if doc.get('changed') else 'same'}"] += 1
    except (json.JSONDecodeError, AttributeError):
        tally.codes[f"{verb} unparsable"] += 1
    return True


async def actor(
    session: aiohttp.ClientSession, base: str, todo: Iterator[int], deadline: float, tally: Tally
) -> None:
    """Take the next untouched incident, ack it, then close it; until none left or time is up."""
    for number in todo:
        if time.perf_counter() >= deadline:
            return
        if await act(session, base, number, "ack", tally):
            await act(session, base, number, "close", tally)
        tally.incidents_done += 1


async def run(args: argparse.Namespace) -> int:
    """The whole benchmark; returns the process exit code."""
    code = code_fingerprint()
    factory = PayloadFactory(args.alerts)
    gw = Gateway(db=args.db)
    problems: list[str] = []
    doc: dict[str, Any] = {}
    try:
        start_s = await gw.start()
        print(
            f"ackgate serve pid {gw.pid} on {gw.base} (source {code}, {args.db}), "
            f"healthy after {start_s:.2f}s, "
            f"idle RSS {gw.rss_mb() or 0:.1f} MiB"
        )
        print(f"seeding {args.incidents} incidents ({args.alerts} alerts each) ...", flush=True)
        numbers, seed_s, seed_statuses = await seed(gw, factory, args.incidents, args.seed_clients)
        print(
            f"seeded {len(numbers)} incidents in {seed_s:.1f}s "
            f"({len(numbers) / seed_s:.1f}/s), answers {dict(seed_statuses)}"
        )
        if len(numbers) != args.incidents:
            problems.append(f"seeding: {len(numbers)} of {args.incidents} incidents opened")
        rss_before = gw.rss_mb()

        tally = Tally()
        todo = iter(numbers)
        connector = aiohttp.TCPConnector(limit=args.clients)
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        print(f"actions: {args.clients} clients, ack then close each incident once ...", flush=True)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            t0 = time.perf_counter()
            cpu0, server_cpu0 = time.process_time(), gw.cpu_s() or 0.0
            deadline = t0 + args.seconds
            await asyncio.gather(
                *(actor(session, gw.base, todo, deadline, tally) for _ in range(args.clients))
            )
            elapsed = time.perf_counter() - t0
            cpu = cpu_json(elapsed, time.process_time() - cpu0, (gw.cpu_s() or 0.0) - server_cpu0)
            end_rss, peak_rss = gw.rss_mb(), gw.peak_rss_mb()
            closed = await incident_total(session, gw.base, "&status=closed")
            acked = await incident_total(session, gw.base, "&status=acknowledged")
            triggered = await incident_total(session, gw.base, "&status=triggered")

        ok_actions = sum(tally.ok.values())
        all_lat = latency_summary([x for v in VERBS for x in tally.latency[v]])
        per_verb = {v: latency_summary(tally.latency[v]) for v in VERBS}
        non2xx = {k: n for k, n in sorted(tally.statuses.items()) if k.split()[1][0] != "2"}
        timed_out = tally.incidents_done < len(numbers)

        print()
        print(f"=== actions ({args.db}) — {elapsed:.1f}s wall ===")
        print(f"incidents processed  {tally.incidents_done} of {len(numbers)}")
        print(f"2xx actions          {ok_actions}  ({dict(tally.ok)})")
        print(f"actions/s            {ok_actions / elapsed:.1f}")
        print(f"incidents/s          {tally.incidents_done / elapsed:.1f}  (ack + close each)")
        print(f"round trip (all)     {fmt_latency(all_lat)}")
        for verb in VERBS:
            print(f"round trip ({verb:5s})   {fmt_latency(per_verb[verb])}")
        print(f"answer codes         {dict(sorted(tally.codes.items()))}")
        print(f"non-2xx              {non2xx or 'none'}")
        for key, sample in tally.samples.items():
            print(f"  first {key} body: {sample}")
        print(
            f"server RSS           {rss_before or 0:.1f} MiB before → {end_rss or 0:.1f} MiB "
            f"after (peak {peak_rss or 0:.1f} MiB)"
        )
        print(
            f"CPU (2 cores = 200%)  server {cpu['server_pct']:.0f}%  "
            f"load generator {cpu['client_pct']:.0f}%"
        )
        print(f"incident statuses    closed {closed}, acknowledged {acked}, triggered {triggered}")
        if timed_out:
            print(f"(stopped by --seconds {args.seconds} before every incident was processed)")
        want = {
            "closed": tally.ok["close"],
            "acknowledged": tally.ok["ack"] - tally.ok["close"],
            "triggered": len(numbers) - tally.ok["ack"],
        }
        got = {"closed": closed, "acknowledged": acked, "triggered": triggered}
        if got != want:
            banner(f"MISMATCH: incident statuses {got}, expected {want} from 2xx answers")
            problems.append("status mismatch")
        changed = sum(n for k, n in tally.codes.items() if k.endswith("/changed"))
        if changed != ok_actions:
            problems.append(f"{ok_actions - changed} 2xx actions did not change the incident")
        if non2xx:
            problems.append(f"non-2xx answers: {non2xx}")

        stop = gw.stop()
        if not report_stop("server", stop):
            problems.append("unclean stop")

        doc = {
            "params": vars(args),
            "seed": {
                "incidents": len(numbers),
                "seconds": round(seed_s, 3),
                "statuses": dict(seed_statuses),
            },
            "elapsed_s": round(elapsed, 3),
            "incidents_processed": tally.incidents_done,
            "ok_actions": dict(tally.ok),
            "actions_per_s": round(ok_actions / elapsed, 2),
            "incidents_per_s": round(tally.incidents_done / elapsed, 2),
            "latency_all": all_lat,
            "latency": per_verb,
            "codes": dict(tally.codes),
            "statuses": dict(tally.statuses),
            "non_2xx": non2xx,
            "non_2xx_samples": tally.samples,
            "final_statuses": got,
            "expected_statuses": want,
            "rss_mb": {"before": rss_before, "end": end_rss, "peak": peak_rss},
            "cpu": cpu,
            "start_s": round(start_s, 3),
            "stop": stop_json(stop),
        }
    except BaseException as exc:  # also Ctrl-C: still stop the server and clean up below
        problems.append(f"benchmark failed: {exc!r}")
        banner(f"benchmark failed: {exc!r}")
        raise
    finally:
        gw.stop()
        log_bad = bool(gw.log_problems())
        if problems or log_bad:
            doc["server_log"] = show_log(gw, "; ".join(problems) or "warnings in log")
        doc["problems"] = problems
        if doc.get("params") is not None:
            path = write_result("action", args.db, doc, code)
            print(f"result: {path}")
        keep = args.keep_tmp or bool(problems) or log_bad
        await gw.cleanup(keep_tmp=keep)
        if keep:
            print(f"kept temp dir (server log, SQLite file): {gw.tmp}")
    return 1 if problems else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.action", description=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--incidents", type=int, default=2000, help="incidents to seed (default 2000)")
    p.add_argument("--alerts", type=int, default=10, help="alerts per seeded incident")
    p.add_argument("--clients", type=int, default=50, help="concurrent action clients (50)")
    p.add_argument("--seed-clients", type=int, default=20, help="concurrent seeding clients")
    p.add_argument(
        "--seconds", type=float, default=300.0, help="upper bound on the action phase (300)"
    )
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
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
