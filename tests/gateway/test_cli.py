"""The ackgate command as a user runs it: check-config, link, simulate, db upgrade."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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
    assert "level 1: alice at once" in out
    assert "level 2: bob after 5 min without an ack" in out
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
