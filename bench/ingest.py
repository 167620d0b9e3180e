"""Alert-ingest benchmark: durable Alertmanager payloads/s and latency under concurrent senders."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.server import (
    API_TOKEN,
    INTEGRATION_TOKEN,
    Gateway,
    StopResult,
    banner,
    code_fingerprint,
    fmt_latency,
    latency_summary,
    show_log,
    write_result,
)

INTEGRATION = "prometheus"  # format = "alertmanager" in config.example.toml
INGEST_HEADERS = {
    "Authorization": f"Bearer {INTEGRATION_TOKEN}",
    "Content-Type": "application/json",
}
API_HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}


class PayloadFactory:
    """Alertmanager webhook v4 bodies shaped like fixtures/alertmanager/firing-2alerts.json.

    Group ``g`` has its own ``groupKey`` and ``alerts`` alerts with fingerprints (16 hex) that
    no other group shares, so the first delivery of a group opens a new incident holding all
    of its alerts, and a later delivery of the same group only refreshes them (dedup).
    """

    def __init__(self, alerts: int = 10) -> None:
        self.alerts = alerts
        self.run = secrets.token_hex(3)
        self.fp_base = secrets.randbits(60)

    def fingerprint(self, group: int, alert: int) -> str:
        """A 16-hex fingerprint unique to (group, alert) within this run."""
        return f"{(self.fp_base + group * self.alerts + alert) % (1 << 64):016x}"

    def payload(self, group: int) -> dict[str, Any]:
        """The decoded webhook body for ``group``."""
        service = f"bench-{group % 17}"
        group_labels = {"alertname": "BenchHighErrorRate", "service": service}
        common = {**group_labels, "severity": "critical", "bench_group": f"{self.run}-{group}"}
        annotations = {
            "runbook_url": "http://runbooks.example.invalid/bench-5xx",
            "summary": f"5xx ratio above 5% on {service} (bench group {group})",
        }
        alerts = [
            {
                "status": "firing",
                "labels": {**common, "instance": f"web-{i}:8080"},
                "annotations": annotations,
                "startsAt": f"2026-11-27T05:35:{i:02d}.659521269Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.local:9090/graph?g0.expr=rate_5xx",
                "fingerprint": self.fingerprint(group, i),
            }
            for i in range(self.alerts)
        ]
        labels_text = ", ".join(f'{k}="{v}"' for k, v in common.items() if k != "severity")
        return {
            "receiver": "oncall-bot",
            "status": "firing",
            "alerts": alerts,
            "groupLabels": group_labels,
            "commonLabels": common,
            "commonAnnotations": annotations,
            "externalURL": "http://alertmanager.local:9093",
            "version": "4",
            "groupKey": "{}:{" + labels_text + "}",
            "truncatedAlerts": 0,
        }

    def body(self, group: int) -> bytes:
        """The encoded webhook body for ``group``."""
        return json.dumps(self.payload(group), separators=(",", ":")).encode()


@dataclass
class Tally:
    """What the senders saw; shared by all client coroutines (one event loop, no locks)."""

    issued: int = 0
    ok: int = 0
    ok_latency: list[float] = field(default_factory=list)
    other_latency: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    samples: dict[str, str] = field(default_factory=dict)  # first body per bad status
    ok_groups: Counter[int] = field(default_factory=Counter)  # 2xx answers per group


async def sender(
    session: aiohttp.ClientSession,
    url: str,
    body_for: Callable[[int], tuple[int, bytes]],
    deadline: float,
    max_requests: int | None,
    tally: Tally,
) -> None:
    """Post payloads back to back until the deadline or the request budget runs out."""
    while time.perf_counter() < deadline and (max_requests is None or tally.issued < max_requests):
        group, body = body_for(tally.issued)
        tally.issued += 1
        t0 = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=INGEST_HEADERS) as r:
                text = await r.text()
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            key = f"error:{type(exc).__name__}"
            tally.statuses[key] += 1
            tally.samples.setdefault(key, str(exc)[:300])
            await asyncio.sleep(0.01)  # no hot loop against a server that is gone
            continue
        elapsed = time.perf_counter() - t0
        tally.statuses[str(status)] += 1
        if 200 <= status < 300:
            tally.ok += 1
            tally.ok_latency.append(elapsed)
            tally.ok_groups[group] += 1
        else:
            tally.other_latency.append(elapsed)
            tally.samples.setdefault(str(status), text[:300])


async def progress(tally: Tally, t0: float, every_s: float, gw: Gateway) -> None:
    """A line every ``every_s`` seconds so a long run shows it is alive."""
    last_ok, last_t = 0, t0
    while True:
        await asyncio.sleep(every_s)
        now = time.perf_counter()
        rate = (tally.ok - last_ok) / (now - last_t)
        bad = sum(v for k, v in tally.statuses.items() if not k.startswith("2"))
        rss = gw.rss_mb()
        print(
            f"  t={now - t0:5.1f}s  2xx={tally.ok:7d}  last {every_s:.0f}s: {rate:7.1f} payloads/s"
            f"  non-2xx={bad}  rss={rss or 0:.0f} MiB",
            flush=True,
        )
        last_ok, last_t = tally.ok, now


async def get_json(session: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    """GET with the API token; (status, decoded body or text)."""
    async with session.get(url, headers=API_HEADERS) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except json.JSONDecodeError:
            return r.status, text


async def incident_total(session: aiohttp.ClientSession, base: str, query: str = "") -> int:
    """`total` of GET /v1/incidents?limit=1 (plus ``query``)."""
    status, doc = await get_json(session, f"{base}/v1/incidents?limit=1{query}")
    if status != 200 or not isinstance(doc, dict) or not isinstance(doc.get("total"), int):
        raise RuntimeError(f"GET /v1/incidents answered {status}: {str(doc)[:300]}")
    total: int = doc["total"]
    return total


@dataclass
class Sample:
    """One stored incident as read back: its bench group, alerts, and each alert's fire count."""

    number: int
    group: int | None
    alerts: int
    fire_counts: list[int]


async def sample_incidents(session: aiohttp.ClientSession, base: str, n: int) -> list[Sample]:
    """The ``n`` newest incidents, read one by one via GET /v1/incidents/{number}."""
    _, doc = await get_json(session, f"{base}/v1/incidents?limit={n}")
    samples: list[Sample] = []
    for item in doc.get("incidents", []) if isinstance(doc, dict) else []:
        _, one = await get_json(session, f"{base}/v1/incidents/{item['number']}")
        incident = one.get("incident", {}) if isinstance(one, dict) else {}
        alerts = incident.get("alerts", [])
        tag = str(alerts[0].get("labels", {}).get("bench_group", "")) if alerts else ""
        group = int(tag.rsplit("-", 1)[1]) if "-" in tag else None
        counts = [int(a.get("count", 0)) for a in alerts]
        samples.append(Sample(item["number"], group, len(alerts), counts))
    return samples


def cpu_json(elapsed: float, client_cpu: float, server_cpu: float) -> dict[str, float]:
    """CPU seconds used during the load and as % of one core (2 cores = 200%)."""
    return {
        "client_s": round(client_cpu, 2),
        "server_s": round(server_cpu, 2),
        "client_pct": round(100 * client_cpu / elapsed, 1),
        "server_pct": round(100 * server_cpu / elapsed, 1),
    }


def stop_json(stop: StopResult) -> dict[str, Any]:
    """A StopResult as JSON."""
    return {
        "returncode": stop.returncode,
        "seconds": round(stop.seconds, 3),
        "clean": stop.clean,
        "killed": stop.killed,
    }


def report_stop(label: str, stop: StopResult) -> bool:
    """Print how the server stopped; True when it exited 0 by itself after SIGTERM."""
    if stop.clean:
        print(f"{label}: exited {stop.returncode} {stop.seconds:.2f}s after SIGTERM")
        return True
    if stop.killed:
        how = f"did not exit within the grace period after SIGTERM; killed ({stop.returncode})"
    else:
        how = f"exited with code {stop.returncode} (expected 0) {stop.seconds:.2f}s after SIGTERM"
    banner(f"{label}: {how}")
    return False


async def run(args: argparse.Namespace) -> int:
    """The whole benchmark; returns the process exit code."""
    code = code_fingerprint()
    factory = PayloadFactory(args.alerts)
    if args.mode == "repeat":
        bodies = [factory.body(g) for g in range(args.groups)]

        def body_for(i: int) -> tuple[int, bytes]:
            g = i % args.groups
            return g, bodies[g]

    else:

        def body_for(i: int) -> tuple[int, bytes]:
            return i, factory.body(i)

    gw = Gateway(db=args.db)
    problems: list[str] = []
    doc: dict[str, Any] = {}
    try:
        start_s = await gw.start()
        idle_rss = gw.rss_mb()
        print(
            f"ackgate serve pid {gw.pid} on {gw.base} (source {code}, "
            f"{args.db}: {gw.database_url}), "
            f"healthy after {start_s:.2f}s, idle RSS {idle_rss or 0:.1f} MiB"
        )
        print(
            f"ingest: mode={args.mode}, {args.alerts} alerts/payload, {args.clients} clients, "
            f"{args.seconds}s"
            + (f", at most {args.max_requests} requests" if args.max_requests else "")
        )
        url = f"{gw.base}/v1/alerts/{INTEGRATION}"
        tally = Tally()
        connector = aiohttp.TCPConnector(limit=args.clients)
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            t0 = time.perf_counter()
            cpu0, server_cpu0 = time.process_time(), gw.cpu_s() or 0.0
            deadline = t0 + args.seconds
            ticker = asyncio.create_task(progress(tally, t0, args.progress, gw))
            await asyncio.gather(
                *(
                    sender(session, url, body_for, deadline, args.max_requests, tally)
                    for _ in range(args.clients)
                )
            )
            elapsed = time.perf_counter() - t0
            ticker.cancel()
            cpu = cpu_json(elapsed, time.process_time() - cpu0, (gw.cpu_s() or 0.0) - server_cpu0)
            end_rss, peak_rss = gw.rss_mb(), gw.peak_rss_mb()
            total = await incident_total(session, gw.base)
            sampled = await sample_incidents(session, gw.base, 5)

        payloads_s = tally.ok / elapsed
        lat = latency_summary(tally.ok_latency)
        non2xx = {k: v for k, v in sorted(tally.statuses.items()) if not k.startswith("2")}
        expected = tally.ok if args.mode == "new" else len(tally.ok_groups)
        durable_ok = total == expected
        sizes = [x.alerts for x in sampled]
        # every alert of a group was fired once per 2xx answer for that group
        fires = {x.number: (x.fire_counts, tally.ok_groups.get(x.group or -1, 0)) for x in sampled}
        full_groups = all(n == args.alerts for n in sizes)
        fires_ok = all(set(got) == {want} for got, want in fires.values())

        print()
        print(f"=== ingest ({args.db}, mode={args.mode}) — {elapsed:.1f}s wall ===")
        print(f"requests issued      {tally.issued}")
        print(f"2xx (committed)      {tally.ok}")
        print(f"payloads/s           {payloads_s:.1f}")
        print(f"durable alerts/s     {payloads_s * args.alerts:.1f}  ({args.alerts} per payload)")
        print(f"2xx latency          {fmt_latency(lat)}")
        if tally.other_latency:
            print(f"non-2xx latency      {fmt_latency(latency_summary(tally.other_latency))}")
        print(f"non-2xx              {non2xx or 'none'}")
        for key, sample in tally.samples.items():
            print(f"  first {key} body: {sample}")
        print(
            f"server RSS           idle {idle_rss or 0:.1f} MiB → end {end_rss or 0:.1f} MiB "
            f"(peak {peak_rss or 0:.1f} MiB)"
        )
        print(
            f"CPU (2 cores = 200%)  server {cpu['server_pct']:.0f}%  "
            f"load generator {cpu['client_pct']:.0f}%"
        )
        what = "2xx payloads" if args.mode == "new" else "distinct groups acked"
        print(f"incidents total      {total} (expected {expected} = {what})")
        if not durable_ok:
            lost = expected - total
            detail = (
                f"{lost} acknowledged payload(s) missing — DATA LOSS"
                if lost > 0
                else f"{-lost} more stored than acknowledged (client timeouts/errors?)"
            )
            banner(f"MISMATCH: GET /v1/incidents total={total}, expected {expected}: {detail}")
            problems.append("durability mismatch")
        print(f"alerts per incident  {sizes} (newest {len(sizes)}; expect {args.alerts} each)")
        if not full_groups:
            banner(f"MISMATCH: sampled incidents hold {sizes} alerts, expected {args.alerts}")
            problems.append("incident alert count mismatch")
        shown = {n: f"{sorted(set(got))} want {want}" for n, (got, want) in fires.items()}
        print(f"alert fire counts    {shown} (per sampled incident)")
        if not fires_ok:
            banner("MISMATCH: stored alert fire counts differ from the 2xx answers per group")
            problems.append("alert fire count mismatch")
        if non2xx:
            problems.append(f"non-2xx answers: {non2xx}")

        stop = gw.stop()
        if not report_stop("server", stop):
            problems.append("unclean stop")

        restart: dict[str, Any] | None = None
        if not args.no_restart_check:
            restart_s = await gw.start()
            async with aiohttp.ClientSession() as session:
                after = await incident_total(session, gw.base)
            stop2 = gw.stop()
            restart = {
                "start_s": round(restart_s, 3),
                "total_after_restart": after,
                "stop": stop_json(stop2),
            }
            print(f"after restart        total {after} (start took {restart_s:.2f}s)")
            if after != total:
                banner(f"MISMATCH after restart: total {after}, before stop {total}")
                problems.append("restart durability mismatch")
            if not report_stop("server (restart check)", stop2):
                problems.append("unclean stop after restart check")

        doc = {
            "params": vars(args),
            "elapsed_s": round(elapsed, 3),
            "requests_issued": tally.issued,
            "ok_2xx": tally.ok,
            "payloads_per_s": round(payloads_s, 2),
            "alerts_per_s": round(payloads_s * args.alerts, 2),
            "latency_2xx": lat,
            "latency_non_2xx": latency_summary(tally.other_latency),
            "statuses": dict(tally.statuses),
            "non_2xx": non2xx,
            "non_2xx_samples": tally.samples,
            "start_s": round(start_s, 3),
            "rss_mb": {"idle": idle_rss, "end": end_rss, "peak": peak_rss},
            "cpu": cpu,
            "durability": {
                "incidents_total": total,
                "expected": expected,
                "ok": durable_ok,
                "sampled_alert_counts": sizes,
                "sampled_fire_counts": {str(n): v for n, v in fires.items()},
            },
            "stop": stop_json(stop),
            "restart_check": restart,
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
            path = write_result(f"ingest-{args.mode}", args.db, doc, code)
            print(f"result: {path}")
        keep = args.keep_tmp or bool(problems) or log_bad
        await gw.cleanup(keep_tmp=keep)
        if keep:
            print(f"kept temp dir (server log, SQLite file): {gw.tmp}")
    return 1 if problems else 0


async def run_sigterm(args: argparse.Namespace) -> int:
    """SIGTERM the server while the senders are still posting, then recount after a restart.

    Every payload that got a 2xx must survive (stored total >= 2xx count); payloads stored
    whose answer was lost in the shutdown are reported, not counted as a failure.
    """
    code = code_fingerprint()
    factory = PayloadFactory(args.alerts)
    gw = Gateway(db=args.db)
    problems: list[str] = []
    doc: dict[str, Any] = {"params": vars(args)}
    try:
        await gw.start()
        print(f"ackgate serve pid {gw.pid} (source {code}, {args.db}); load for {args.seconds}s,")
        print(
            "then SIGTERM, "
            + (
                "and the senders drop their in-flight requests at once"
                if args.abandon
                else "while the senders keep posting for 3 more seconds"
            )
        )
        tally = Tally()
        connector = aiohttp.TCPConnector(limit=args.clients)
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        url = f"{gw.base}/v1/alerts/{INTEGRATION}"
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            t0 = time.perf_counter()
            senders = asyncio.gather(
                *(
                    sender(
                        session,
                        url,
                        lambda i: (i, factory.body(i)),
                        t0 + args.seconds + 3,
                        None,
                        tally,
                    )
                    for _ in range(args.clients)
                )
            )
            await asyncio.sleep(args.seconds)
            ok_at_signal = tally.ok
            gw.terminate()
            if args.abandon:  # drop the in-flight requests right after the signal
                senders.cancel()
            if args.double_sigterm and gw.proc is not None:  # as an impatient supervisor might
                await asyncio.sleep(0.01)
                if gw.proc.poll() is None:
                    gw.proc.send_signal(signal.SIGTERM)
            stop = await asyncio.to_thread(gw.stop)
            with contextlib.suppress(asyncio.CancelledError):
                await senders
        print(f"2xx before SIGTERM {ok_at_signal}, 2xx in all {tally.ok}")
        print(f"answers            {dict(sorted(tally.statuses.items()))}")
        if not report_stop("server", stop):
            problems.append("unclean stop under load")
        await gw.start()
        async with aiohttp.ClientSession() as session:
            total = await incident_total(session, gw.base)
        restart_stop = gw.stop()
        print(f"after restart      {total} incidents stored; {tally.ok} payloads got a 2xx")
        if total < tally.ok:
            banner(f"MISMATCH: {tally.ok - total} payload(s) answered 2xx are missing — DATA LOSS")
            problems.append("acknowledged payloads lost across SIGTERM")
        elif total > tally.ok:
            print(f"                   {total - tally.ok} stored whose answer never arrived (ok)")
        if not restart_stop.clean:
            problems.append("unclean stop after restart")
        if gw.log_problems():
            problems.append("server logged warnings/errors around the SIGTERM")
        doc.update(
            {
                "ok_before_signal": ok_at_signal,
                "ok_2xx": tally.ok,
                "statuses": dict(tally.statuses),
                "samples": tally.samples,
                "stop": stop_json(stop),
                "stored_after_restart": total,
            }
        )
    except BaseException as exc:  # also Ctrl-C: still stop the server and clean up below
        problems.append(f"benchmark failed: {exc!r}")
        raise
    finally:
        gw.stop()
        if problems or gw.log_problems():
            doc["server_log"] = show_log(gw, "; ".join(problems) or "warnings in log")
        doc["problems"] = problems
        print(f"result: {write_result('ingest-sigterm', args.db, doc, code)}")
        await gw.cleanup(keep_tmp=args.keep_tmp or bool(problems))
        if args.keep_tmp or problems:
            print(f"kept temp dir (server log, SQLite file): {gw.tmp}")
    return 1 if problems else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--seconds", type=float, default=60.0, help="load duration (default 60)")
    p.add_argument("--clients", type=int, default=20, help="concurrent senders (default 20)")
    p.add_argument(
        "--mode",
        choices=["new", "repeat"],
        default="new",
        help="new: every payload a new group/incident; repeat: re-fire --groups groups (dedup)",
    )
    p.add_argument("--alerts", type=int, default=10, help="alerts per payload (default 10)")
    p.add_argument("--groups", type=int, default=200, help="groups re-fired in repeat mode")
    p.add_argument("--max-requests", type=int, default=None, help="also stop after N requests")
    p.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    p.add_argument("--progress", type=float, default=5.0, help="progress line every N s")
    p.add_argument("--no-restart-check", action="store_true", help="skip the restart recount")
    p.add_argument("--keep-tmp", action="store_true", help="keep the temp dir and server log")
    p.add_argument(
        "--sigterm-under-load",
        action="store_true",
        help="instead: SIGTERM the server mid-load (new mode), check no 2xx payload was lost",
    )
    p.add_argument(
        "--abandon",
        action="store_true",
        help="with --sigterm-under-load: clients drop in-flight requests right after the SIGTERM",
    )
    p.add_argument(
        "--double-sigterm",
        action="store_true",
        help="with --sigterm-under-load: send a second SIGTERM 10 ms after the first",
    )
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.clients <= 0 or args.alerts <= 0 or args.groups <= 0:
        p.error("--seconds, --clients, --alerts and --groups must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = parse_args(argv)
    return asyncio.run(run_sigterm(args) if args.sigterm_under_load else run(args))


if __name__ == "__main__":
    sys.exit(main())
