"""Configuration: the example loads, every mistake is named by its key path, secrets from env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gateway.config import load_settings, parse_settings
from gateway.errors import ConfigError
from tests.support import settings_doc

ROOT = Path(__file__).resolve().parents[2]


def errors_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_settings(doc, base_dir=Path("/srv"))
    return err.value.errors


def test_example_config_loads_with_what_the_quickstart_needs() -> None:
    s = load_settings(ROOT / "config.example.toml")
    assert s.integrations["prometheus"].format == "alertmanager"
    assert s.integrations["prometheus"].token.get_secret_value() == "example-token"
    assert {m: s.members[m].email for m in ("alice", "bob")} == {
        "alice": "alice@example.com",
        "bob": "bob@example.com",
    }
    assert [(t.token.get_secret_value(), t.member) for t in s.api_tokens] == [
        ("example-api-token", "alice")
    ]
    policy = s.services["default"].escalation
    assert policy is not None
    assert [(lv.targets, lv.wait_min) for lv in policy.levels] == [(["alice"], 5), (["bob"], 5)]
    assert s.database.url == f"sqlite+aiosqlite:///{ROOT / 'ackgate.db'}"


def test_wait_min_must_be_positive_and_the_path_says_where() -> None:
    doc = settings_doc()
    doc["services"]["default"]["escalation"]["levels"][1]["wait_min"] = 0
    assert errors_of(doc) == ["services.default.escalation.levels[1].wait_min: must be > 0"]


def test_unknown_keys_are_errors() -> None:
    doc = settings_doc()
    doc["server"]["listne"] = "x"
    doc["integrations"]["prometheus"]["tokn"] = "x"
    assert errors_of(doc) == [
        "server.listne: unknown key",
        "integrations.prometheus.tokn: unknown key",
    ]


def test_dangling_references_are_errors() -> None:
    doc = settings_doc(
        routing={"default_service": "nope", "rules": [{"service": "db", "integration": "zabbix"}]}
    )
    doc["services"]["default"]["escalation"]["levels"][0]["targets"] = ["carol"]
    doc["api_tokens"][0]["member"] = "dave"
    assert sorted(errors_of(doc)) == sorted(
        [
            "api_tokens[0].member: no member named 'dave'",
            "services.default.escalation.levels[0].targets[0]: no member named 'carol'",
            "routing.default_service: no service named 'nope'",
            "routing.rules[0].service: no service named 'db'",
            "routing.rules[0].integration: no integration named 'zabbix'",
        ]
    )


def test_env_references_are_substituted_and_missing_ones_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    doc = settings_doc()
    doc["integrations"]["prometheus"]["token"] = "${PROM_TOKEN}"
    monkeypatch.setenv("PROM_TOKEN", "from-the-environment")
    s = parse_settings(doc, base_dir=Path("/srv"))
    assert s.integrations["prometheus"].token.get_secret_value() == "from-the-environment"
    assert "from-the-environment" not in repr(s)
    monkeypatch.delenv("PROM_TOKEN")
    assert errors_of(doc) == [
        "integrations.prometheus.token: environment variable PROM_TOKEN is not set"
    ]


def test_other_mistakes() -> None:
    doc = settings_doc()
    doc["integrations"]["prometheus"]["format"] = "nagios"
    doc["members"]["bob"]["timezone"] = "Mars/Olympus"
    doc["server"]["listen"] = "8080"
    errs = errors_of(doc)
    assert any(e.startswith("integrations.prometheus.format: ") for e in errs)
    assert "members.bob.timezone: unknown time zone 'Mars/Olympus'" in errs
    assert "server.listen: must be HOST:PORT, got '8080'" in errs


def test_relative_sqlite_path_is_beside_the_config(tmp_path: Path) -> None:
    doc = settings_doc(database={"url": "sqlite+aiosqlite:///data/a.db"})
    s = parse_settings(doc, base_dir=tmp_path)
    assert s.database.url == f"sqlite+aiosqlite:///{tmp_path}/data/a.db"
