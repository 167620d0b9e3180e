"""Service templates reach the cards, a broken one falls back and says so, and preview."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gateway.domain import AlertAction, AlertBatch, AlertEvent, Severity
from gateway.ingest.service import ingest
from gateway.templates import FILTERS, VARIABLES
from storage import repo
from tests.gateway.test_cli import ROOT, ackgate
from tests.support import make_settings, running

SLACK = {"bot_token": "xoxb-test-token", "signing_secret": "test-signing-secret"}


def service(templates: dict[str, Any]) -> dict[str, Any]:
    return {
        "default": {
            "escalation": {"levels": [{"targets": ["alice"]}]},
            "notify": [{"kind": "slack", "chat": "COPS"}],
            "templates": templates,
        }
    }


async def posted_cards(tmp_path: Path, templates: dict[str, Any]) -> list[dict[str, Any]]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path}/t.db", services=service(templates), slack=SLACK
    )
    async with running(settings) as rt:
        event = AlertEvent("k", AlertAction.TRIGGER, "DiskFull", Severity.CRITICAL, "db-1 at 97%")
        number = (await ingest(rt, "prometheus", AlertBatch(events=(event,)))).opened[0]
        async with rt.db.read() as conn:
            rows = await repo.deliveries_for(conn, number)
    return [r["payload"] for r in rows if r["payload"].get("op") == "post"]


async def test_a_service_template_writes_the_card_body(tmp_path: Path) -> None:
    cards = await posted_cards(
        tmp_path,
        {"slack": {"triggered": "{{ title }} ({{ severity }}) for {{ assigned_to | join(', ') }}"}},
    )
    assert len(cards) == 2  # the channel and alice's DM
    assert {c["incident"]["body"] for c in cards} == {"DiskFull (critical) for Alice"}
    assert all("template_error" not in c for c in cards)


async def test_a_failing_template_falls_back_and_is_flagged(tmp_path: Path) -> None:
    cards = await posted_cards(tmp_path, {"slack": {"default": "{{ alerts[0].nope.deeper }}"}})
    assert cards
    for card in cards:
        assert "used the default" in card["template_error"]
        assert "db-1 at 97%" in card["incident"]["body"]  # the built-in slack body


async def test_no_template_keeps_the_built_in_card(tmp_path: Path) -> None:
    cards = await posted_cards(tmp_path, {"sms": {"default": "#{{ number }}"}})
    assert all("body" not in c["incident"] for c in cards)


def test_preview_renders_a_sample_and_a_real_alert(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text())
    sms = ackgate("preview", "--channel", "sms", "--config", str(config), cwd=tmp_path)
    assert sms.returncode == 0, sms.stderr
    assert sms.stdout.startswith("[CRITICAL] #42 HighErrorRate on checkout - triggered")
    alert = ROOT / "tests" / "fixtures" / "alertmanager" / "dba-firing.json"
    real = ackgate(
        "preview",
        "--channel",
        "email_subject",
        "--alert",
        str(alert),
        "--config",
        str(config),
        cwd=tmp_path,
    )
    assert real.returncode == 0, real.stderr
    assert real.stdout.strip() == "[P1][#1] Replica db-2 is 120 s behind the primary"
    bad = ackgate("preview", "--channel", "fax", "--config", str(config), cwd=tmp_path)
    assert bad.returncode == 1
    assert "--channel: one of" in bad.stderr


def test_the_readme_documents_every_variable_and_filter() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [n for n in [*VARIABLES, *FILTERS] if f"| `{n}` |" not in readme]
    assert missing == []


def test_preview_prints_the_block_kit_slack_would_get(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((ROOT / "config.example.toml").read_text())
    done = ackgate("preview", "--channel", "slack", "--json", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    message = json.loads(done.stdout)
    assert message["blocks"][0]["text"]["text"].endswith("#42 HighErrorRate")
    assert any("Assigned to" in json.dumps(block) for block in message["blocks"])
