"""Shared bench plumbing: run an `ackgate serve` subprocess on loopback, PG scratch DBs, stats."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import aiohttp
import asyncpg  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config.example.toml"
RESULTS = Path(__file__).resolve().parent / "results"

SOURCE_PACKAGES = ("gateway", "storage", "adapters", "cards")
HOST = "127.0.0.1"
INTEGRATION_TOKEN = "example-token"
API_TOKEN = "example-api-token"
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL_TEMPLATE = "postgresql+asyncpg://postgres@127.0.0.1:5432/{db}"

Backend = Literal["sqlite", "postgres"]


def free_port() -> int:
    """An unused TCP port on 127.0.0.1 (the kernel picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def ackgate_command() -> list[str]:
    """The venv's `ackgate` script when present, else `python -m gateway` (same program)."""
    script = Path(sys.executable).with_name("ackgate")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "gateway"]


def read_proc_status_kb(pid: int, key: str) -> int | None:
    """A `kB` field (VmRSS, VmHWM, ...) of /proc/<pid>/status, or None if gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def read_proc_cpu_s(pid: int) -> float | None:
    """utime + stime of /proc/<pid>/stat in seconds, or None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is fields[0]
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / os.sysconf("SC_CLK_TCK")


async def create_pg_database() -> str:
    """Create a fresh `ackgate_bench_<random>` database (connecting to `test`); its name."""
    name = f"ackgate_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_pg_database(name: str) -> None:
    """Drop a database made by create_pg_database (forcing off leftover sessions)."""
    if not name.startswith("ackgate_bench_"):
        raise ValueError(f"refusing to drop {name!r}: not a bench database")
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@dataclass
class StopResult:
    """How the server went down after SIGTERM."""

    returncode: int | None
    seconds: float
    clean: bool  # exited by itself within the grace period
    killed: bool


@dataclass
class Gateway:
    """One `ackgate serve` on a free loopback port, logging to a file in its own temp dir.

    ``db`` picks a throwaway SQLite file in the temp dir or a fresh PostgreSQL database
    (created by ``prepare`` and dropped by ``cleanup``). Pass ``sqlite_path`` to reuse a file.
    """

    db: Backend = "sqlite"
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="ackgate-bench-")))
    port: int = field(default_factory=free_port)
    pg_name: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    spawned_at: float = 0.0
    starts: int = 0
    term_at: float | None = None
    config: Path = CONFIG

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://{HOST}:{self.port}"

    @property
    def log(self) -> Path:
        """The serve process's combined stdout/stderr."""
        return self.tmp / "serve.log"

    @property
    def database_url(self) -> str:
        """The `--database-url` passed to serve."""
        if self.db == "postgres":
            if self.pg_name is None:
                raise RuntimeError("call prepare() first to create the PostgreSQL database")
            return PG_URL_TEMPLATE.format(db=self.pg_name)
        return f"sqlite+aiosqlite:///{self.tmp / 'bench.db'}"

    @property
    def pid(self) -> int | None:
        """The serve process id while it runs."""
        return self.proc.pid if self.proc else None

    async def prepare(self) -> None:
        """Create the PostgreSQL database when needed (SQLite needs nothing)."""
        if self.db == "postgres" and self.pg_name is None:
            self.pg_name = await create_pg_database()

    async def start(self, timeout_s: float = 60.0, poll_s: float = 0.01) -> float:
        """Spawn serve and wait for /healthz 200; returns seconds from spawn to that answer."""
        await self.prepare()
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("already running")
        self.port = free_port() if self.starts else self.port
        self.starts += 1
        self.term_at = None
        cmd = [
            *ackgate_command(),
            "serve",
            "--config",
            str(self.config),
            "--listen",
            f"{HOST}:{self.port}",
            "--database-url",
            self.database_url,
        ]
        with self.log.open("ab") as out:
            out.write(f"--- bench: start #{self.starts}: {' '.join(cmd)}\n".encode())
            out.flush()
            self.spawned_at = time.perf_counter()
            self.proc = subprocess.Popen(  # noqa: ASYNC220, S603 - spawn is what we time
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=self.tmp, env=dict(os.environ)
            )
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as s:
            while time.perf_counter() - self.spawned_at < timeout_s:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"serve exited {self.proc.returncode}:\n{self.tail()}")
                try:
                    async with s.get(self.base + "/healthz") as r:
                        if r.status == 200:
                            return time.perf_counter() - self.spawned_at
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(poll_s)
        self.stop()
        raise RuntimeError(f"serve not healthy within {timeout_s}s:\n{self.tail()}")

    def rss_mb(self) -> float | None:
        """Current resident set size (VmRSS) of the serve process in MiB."""
        kb = read_proc_status_kb(self.proc.pid, "VmRSS") if self.proc else None
        return None if kb is None else kb / 1024

    def cpu_s(self) -> float | None:
        """User + system CPU seconds the serve process has used so far."""
        return read_proc_cpu_s(self.proc.pid) if self.proc else None

    def peak_rss_mb(self) -> float | None:
        """Peak resident set size (VmHWM) of the serve process in MiB."""
        kb = read_proc_status_kb(self.proc.pid, "VmHWM") if self.proc else None
        return None if kb is None else kb / 1024

    def terminate(self) -> None:
        """Send SIGTERM once, without waiting (``stop`` then times the exit from here)."""
        if self.proc is not None and self.proc.poll() is None and self.term_at is None:
            self.term_at = time.perf_counter()
            self.proc.send_signal(signal.SIGTERM)

    def stop(self, grace_s: float = 15.0) -> StopResult:
        """SIGTERM (once), wait up to ``grace_s`` for it to exit, SIGKILL only if it did not."""
        if self.proc is None:
            return StopResult(None, 0.0, clean=True, killed=False)
        if self.term_at is None:
            if self.proc.poll() is not None:  # it died without being asked to
                return StopResult(self.proc.returncode, 0.0, clean=False, killed=False)
            self.terminate()
        t0 = self.term_at or time.perf_counter()
        try:
            rc = self.proc.wait(max(0.1, grace_s - (time.perf_counter() - t0)))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            return StopResult(rc, time.perf_counter() - t0, clean=False, killed=True)
        return StopResult(rc, time.perf_counter() - t0, clean=rc == 0, killed=False)

    def _lines(self) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def tail(self, n: int = 30) -> str:
        """The last ``n`` lines of the serve log, JSON log records shown as one short line."""
        return "\n".join(compact_log_line(line) for line in self._lines()[-n:])

    def log_problems(self) -> list[dict[str, Any]]:
        """WARNING-or-worse records (and raw tracebacks), grouped, most frequent first."""
        groups: dict[tuple[str, ...], dict[str, Any]] = {}
        raw_trace: list[str] = []
        for line in self._lines():
            record = _json_record(line)
            if record is None:
                # stderr text outside the JSON logger (e.g. a crash before logging is set up)
                if line.startswith("Traceback") or raw_trace:
                    raw_trace.append(line)
                    if line and not line.startswith((" ", "Traceback")):
                        key = ("RAW", "stderr", line[:200], "")
                        self._add(groups, key, "", "\n".join(raw_trace[-12:]))
                        raw_trace = []
                continue
            level = str(record.get("level", ""))
            if level not in ("WARNING", "ERROR", "CRITICAL"):
                continue
            exc = str(record.get("exc_info") or "")
            last = exc.strip().splitlines()[-1] if exc.strip() else ""
            message = (str(record.get("message", "")).splitlines() or [""])[0][:300]
            key = (level, str(record.get("logger")), message, last)
            trace = "\n".join(exc.strip().splitlines()[-12:])
            self._add(groups, key, str(record.get("time", "")), trace)
        return sorted(groups.values(), key=lambda g: -int(g["count"]))

    @staticmethod
    def _add(
        groups: dict[tuple[str, ...], dict[str, Any]], key: tuple[str, ...], at: str, trace: str
    ) -> None:
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "count": 0,
                "level": key[0],
                "logger": key[1],
                "message": key[2],
                "exception": key[3],
                "first_at": at,
                "traceback_tail": trace,
            }
        group["count"] += 1
        group["last_at"] = at

    async def cleanup(self, *, keep_tmp: bool = False) -> None:
        """Stop if running, drop the PG database, delete the temp dir unless ``keep_tmp``."""
        if self.proc is not None and self.proc.poll() is None:
            self.stop()
        if self.pg_name is not None:
            await drop_pg_database(self.pg_name)
            self.pg_name = None
        if not keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _json_record(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def compact_log_line(line: str, width: int = 300) -> str:
    """A JSON log record as `time LEVEL logger: message | exception`; other lines as they are."""
    record = _json_record(line)
    if record is None:
        return line[:width]
    exc = str(record.get("exc_info") or "").strip()
    text = (
        f"{record.get('time', '')} {record.get('level', '')} {record.get('logger', '')}: "
        f"{record.get('message', '')}"
    )
    if exc:
        text += " | " + exc.splitlines()[-1]
    return text[:width]


def show_log(gw: Gateway, reason: str) -> dict[str, Any]:
    """Print the server log's last lines and its grouped warnings/errors; return both."""
    tail = gw.tail(15).splitlines()
    problems = gw.log_problems()
    print(f"--- server log, last {len(tail)} lines ({reason}); full log: {gw.log}")
    for line in tail:
        print("  | " + line)
    if problems:
        print(f"--- server WARNING/ERROR records, grouped ({len(problems)} kinds):")
        for group in problems[:10]:
            print(
                f"  ! {group['count']}x {group['level']} {group['logger']}: {group['message']}"
                f" ({group['first_at']} .. {group['last_at']})"
            )
            if group["exception"]:
                print(f"    {group['exception']}")
        for group in problems[:3]:
            if group["traceback_tail"]:
                print(f"--- traceback tail of: {group['exception'] or group['message']}")
                for line in str(group["traceback_tail"]).splitlines():
                    print("    " + line)
    return {"reason": reason, "tail": tail, "problems": problems[:20]}


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an already sorted list; NaN when empty."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(seconds: list[float]) -> dict[str, float | int]:
    """count, p50/p90/p99/max and mean in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    return {
        "count": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else math.nan,
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else math.nan,
    }


def fmt_latency(summary: dict[str, float | int]) -> str:
    """One line: p50 / p90 / p99 / max."""
    return (
        f"p50 {summary['p50_ms']:.1f} ms  p90 {summary['p90_ms']:.1f} ms  "
        f"p99 {summary['p99_ms']:.1f} ms  max {summary['max_ms']:.1f} ms  (n={summary['count']})"
    )


def code_fingerprint() -> str:
    """A short hash of the server's source (gateway, storage, adapters, cards; .py and config).

    The project is installed editable, so a file edited during a run changes what a restarted
    server runs; comparing this before and after a run tells whether the numbers are mixed.
    """
    digest = hashlib.sha256()
    files = [CONFIG, *(f for pkg in SOURCE_PACKAGES for f in (ROOT / pkg).rglob("*.py"))]
    for path in sorted(files):
        try:
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
        except OSError:
            continue
    return digest.hexdigest()[:12]


def environment() -> dict[str, Any]:
    """Where the numbers came from."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ackgate": ackgate_command(),
    }


def write_result(name: str, db: str, doc: dict[str, Any], code_at_start: str) -> Path:
    """Write ``doc`` to bench/results/<name>-<db>-<UTC timestamp>.json; returns the path.

    Warns loudly when the server source changed between ``code_at_start`` and now.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{db}-{stamp}.json"
    code_now = code_fingerprint()
    if code_now != code_at_start:
        banner(
            f"server source changed during this run ({code_at_start} → {code_now}): "
            "the numbers may mix two versions; run again"
        )
    code = {"at_start": code_at_start, "at_end": code_now, "changed": code_now != code_at_start}
    full = {
        "benchmark": name,
        "db": db,
        "finished_at": stamp,
        "code": code,
        "environment": environment(),
        **doc,
    }
    path.write_text(json.dumps(full, indent=2, sort_keys=False, default=str) + "\n")
    return path


def banner(text: str) -> None:
    """A loud line that is hard to miss in a terminal."""
    bar = "!" * min(100, max(20, len(text) + 8))
    print(f"\n{bar}\n!!! {text}\n{bar}\n")
