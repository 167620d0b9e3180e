"""The ackgate command as a user runs it: check-config, link, simulate, db upgrade."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from gateway.clock import SystemClock
from gateway.links import LinkSigner
from tests.support import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def ackgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    return tmp_path / "config.toml"


def test_check_config_ok(config: Path) -> None:
    done = ackgate("check-config", "--config", str(config), cwd=config.parent)
    assert (done.returncode, done.stdout) == (0, "OK\n")


def test_check_config_lists_every_error(config: Path) -> None:
    text = config.read_text().replace(
        'targets = ["bob"]\nwait_min = 5', 'targets = ["bob"]\nwait_min = 0'
    )
    text = text.replace('member = "alice"', 'member = "nobody"')
    config.write_text(text)
    done = ackgate("check-config", "--config", str(config), cwd=config.parent)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        "services.default.escalation.levels[1].wait_min: must be > 0",
    ]
    config.write_text(text.replace("wait_min = 0", "wait_min = 5"))
    done = ackgate("check-config", "--config", str(config), cwd=config.parent)
    assert done.stdout.splitlines() == ["api_tokens[0].member: no member named 'nobody'"]


def test_link_prints_a_signed_link_that_verifies(config: Path) -> None:
    done = ackgate(
        "link", "1", "--member", "alice", "--ttl", "2h", "--config", str(config), cwd=config.parent
    )
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    assert url.startswith("http://127.0.0.1:8080/incidents/1?t=")
    grant = LinkSigner("example-secret-key-change-me-please").check(
        url.split("?t=", 1)[1], 1, SystemClock().now()
    )
    assert grant.member == "alice"
    bad = ackgate("link", "1", "--member", "mallory", "--config", str(config), cwd=config.parent)
    assert bad.returncode == 1
    assert "no member named 'mallory'" in bad.stderr


def test_simulate_says_what_would_happen_and_writes_nothing(config: Path) -> None:
    alert = FIXTURES / "alertmanager" / "firing-2alerts.json"
    done = ackgate("simulate", str(alert), "--config", str(config), cwd=config.parent)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert 'would open incident #1 "5xx ratio above 5% on checkout" [critical]' in out
    assert "-> service default" in out
    assert "policy services.default.escalation" in out
    assert "+0s  opened: alice" in out
    assert "+5m  escalates to level 2: bob" in out
    assert not (config.parent / "ackgate.db").exists()


def test_simulate_against_live_state_sees_the_open_incident(config: Path) -> None:
    assert ackgate("db", "upgrade", "--config", str(config), cwd=config.parent).returncode == 0
    db = config.parent / "ackgate.db"
    assert db.exists()
    alert = FIXTURES / "alertmanager" / "firing.json"
    first = ackgate("simulate", str(alert), "--config", str(config), cwd=config.parent)
    assert "would open incident #1" in first.stdout
    again = ackgate("simulate", str(alert), "--config", str(config), cwd=config.parent)
    assert "would open incident #1" in again.stdout  # the first run stored nothing


def test_simulate_rejects_bad_payload(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"alerts": "nope"}))
    done = ackgate("simulate", str(bad), "--config", str(config), cwd=config.parent)
    assert done.returncode == 1
    assert "alerts" in done.stderr


GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize(
    ("at", "golden"),
    [
        ("2026-11-27T10:00:00Z", "simulate-dba-office-hours.txt"),
        ("2026-11-27T22:00:00Z", "simulate-dba-night.txt"),
    ],
)
def test_simulate_walks_the_example_policies(config: Path, at: str, golden: str) -> None:
    alert = FIXTURES / "alertmanager" / "dba-firing.json"
    done = ackgate(
        "simulate",
        str(alert),
        "--config",
        str(config),
        "--at",
        at,
        "--until",
        "2h",
        cwd=config.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (GOLDEN / golden).read_text(encoding="utf-8")


def test_oncall_prints_the_rota_and_a_feed_url(config: Path) -> None:
    done = ackgate(
        "oncall",
        "dba",
        "--at",
        "2026-11-27T10:00:00Z",
        "--days",
        "7",
        "--config",
        str(config),
        cwd=config.parent,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "dba at 2026-11-27T10:00:00+00:00: alice",
        "  2026-11-27 10:00 – 2026-11-30 08:00 UTC  alice (weekly)",
        "  2026-11-30 08:00 – 2026-12-04 10:00 UTC  bob (weekly)",
    ]
    feed = ackgate("oncall", "dba", "--feed", "--config", str(config), cwd=config.parent)
    assert feed.stdout.startswith("http://127.0.0.1:8080/v1/schedules/dba.ics?token=")
    unknown = ackgate("oncall", "nope", "--config", str(config), cwd=config.parent)
    assert unknown.returncode == 1
    assert "no schedule named 'nope' (known: dba)" in unknown.stderr


def test_oncall_imports_calendar_events_as_overrides(config: Path, tmp_path: Path) -> None:
    start = (SystemClock().now() + timedelta(days=3)).replace(microsecond=0)
    end = start + timedelta(hours=15)

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y%m%dT%H%M%SZ")

    calendar = tmp_path / "cover.ics"
    calendar.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:1@test\r\nDTSTAMP:{stamp(start)}\r\nDTSTART:{stamp(start)}\r\n"
        f"DTEND:{stamp(end)}\r\nSUMMARY:cover\r\nATTENDEE;CN=Bob:mailto:bob@example.com\r\n"
        "END:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nUID:2@test\r\nDTSTAMP:{stamp(start)}\r\nDTSTART:{stamp(start)}\r\n"
        f"DTEND:{stamp(end)}\r\nSUMMARY:zed covers\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    done = ackgate(
        "oncall", "dba", "--import-ics", str(calendar), "--config", str(config), cwd=config.parent
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:4] == [
        "[[schedules.dba.overrides]]",
        'member = "bob"',
        f'start = "{start.isoformat()}"',
        f'end = "{end.isoformat()}"',
    ]
    assert "no member matches 'zed covers'" in done.stderr
    # What it prints is valid configuration.
    config.write_text(config.read_text() + "\n" + done.stdout)
    assert ackgate("check-config", "--config", str(config), cwd=config.parent).returncode == 0
