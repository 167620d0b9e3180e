"""Start-up benchmark: spawn to first /healthz 200, idle RSS and SIGTERM exit, on a fresh DB."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from typing import Any

from bench.ingest import stop_json
from bench.server import Gateway, banner, code_fingerprint, show_log, write_result


async def one_run(db: str, settle_s: float) -> tuple[dict[str, Any], list[str]]:
    """Start a gateway on a brand-new database, measure, stop it; (numbers, problems)."""
    gw = Gateway(db="postgres" if db == "postgres" else "sqlite")
    problems: list[str] = []
    out: dict[str, Any] = {}
    try:
        await gw.prepare()  # create the PG database before the clock starts
        out["healthy_s"] = await gw.start()
        out["rss_at_healthy_mb"] = gw.rss_mb()
        await asyncio.sleep(settle_s)
        out["idle_rss_mb"] = gw.rss_mb()
        out["peak_rss_mb"] = gw.peak_rss_mb()
        stop = gw.stop()
        out["stop"] = stop_json(stop)
        if not stop.clean:
            problems.append(f"unclean stop: {stop}")
    except RuntimeError as exc:
        problems.append(f"start failed: {exc}")
    finally:
        gw.stop()
        if problems or gw.log_problems():
            out["server_log"] = show_log(gw, "; ".join(problems) or "warnings in log")
        await gw.cleanup(keep_tmp=bool(problems))
        if problems:
            print(f"kept temp dir: {gw.tmp}")
    return out, problems


async def run(args: argparse.Namespace) -> int:
    """All runs and the summary; returns the exit code."""
    code = code_fingerprint()
    runs: list[dict[str, Any]] = []
    problems: list[str] = []
    print(
        f"startup ({args.db}, source {code}): {args.runs} runs, fresh database each, "
        f"idle after {args.settle}s"
    )
    for i in range(args.runs):
        out, bad = await one_run(args.db, args.settle)
        runs.append(out)
        problems += bad
        if "healthy_s" in out:
            print(
                f"  run {i + 1}: healthy after {out['healthy_s'] * 1000:.0f} ms, "
                f"RSS {out['rss_at_healthy_mb'] or 0:.1f} MiB at healthy, "
                f"{out['idle_rss_mb'] or 0:.1f} MiB idle, "
                f"SIGTERM exit {out['stop']['returncode']} "
                f"in {out['stop']['seconds'] * 1000:.0f} ms"
            )
    times = [r["healthy_s"] for r in runs if "healthy_s" in r]
    idle = [r["idle_rss_mb"] for r in runs if r.get("idle_rss_mb") is not None]
    stops = [r["stop"]["seconds"] for r in runs if "stop" in r]
    summary: dict[str, Any] = {}
    if times:
        summary = {
            "healthy_median_s": round(statistics.median(times), 3),
            "healthy_min_s": round(min(times), 3),
            "healthy_max_s": round(max(times), 3),
            "idle_rss_median_mb": round(statistics.median(idle), 1) if idle else None,
            "stop_median_s": round(statistics.median(stops), 3) if stops else None,
        }
        print()
        print(f"=== startup ({args.db}) — {len(times)} of {args.runs} runs ===")
        print(
            f"spawn → /healthz 200   median {summary['healthy_median_s'] * 1000:.0f} ms "
            f"(min {summary['healthy_min_s'] * 1000:.0f}, "
            f"max {summary['healthy_max_s'] * 1000:.0f})"
        )
        print(f"idle RSS               median {summary['idle_rss_median_mb']} MiB")
        print(f"SIGTERM → exit         median {(summary['stop_median_s'] or 0) * 1000:.0f} ms")
    if problems:
        banner(f"{len(problems)} problem(s): {problems[0][:200]}")
    path = write_result(
        "startup",
        args.db,
        {"params": vars(args), "runs": runs, **summary, "problems": problems},
        code,
    )
    print(f"result: {path}")
    return 1 if problems else 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__)
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--runs", type=int, default=5, help="start-ups to take the median of (5)")
    p.add_argument("--settle", type=float, default=2.0, help="idle seconds before reading RSS")
    args = p.parse_args(argv)
    if args.runs <= 0 or args.settle < 0:
        p.error("--runs must be positive and --settle not negative")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
