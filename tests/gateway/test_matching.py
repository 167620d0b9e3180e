"""Match conditions: every operator, AND semantics, regex errors, routing and its explanation."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from gateway.domain import AlertAction, AlertEvent, Incident, Severity, Status
from gateway.matching import (
    REGEX_SCAN_LIMIT,
    Check,
    Conditions,
    RouteRuleSettings,
    Subject,
    describe,
    explain,
    explain_route,
    matches,
    route,
)

SUBJECT = Subject(
    severity=Severity.CRITICAL,
    labels={"team": "dba", "env": "prod-eu", "runbook": "https://wiki/db", "empty": ""},
    title="Disk full on db1",
    description="The checkout database ran out of space.",
    integration="prometheus",
)


def conditions(toml: str) -> Conditions:
    return Conditions.model_validate(tomllib.loads(toml))


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        # severity: any of
        ('severity = ["critical", "warning"]', True),
        ('severity = ["warning", "info"]', False),
        # integration: a list or, as older configs wrote it, one string
        ('integration = ["grafana", "prometheus"]', True),
        ('integration = "prometheus"', True),
        ('integration = "grafana"', False),
        # labels: equals, exactly
        ('labels = { team = "dba" }', True),
        ('labels = { team = "DBA" }', False),
        ('labels = { team = "db" }', False),
        ('labels = { owner = "dba" }', False),
        # labels: any of a list (plain values or regexes)
        ('labels = { env = ["staging", "prod-eu"] }', True),
        ('labels = { env = ["staging", "/^prod-/"] }', True),
        ('labels = { env = ["staging", "dev"] }', False),
        # labels: exists (set and non-empty) and absent
        ('labels = { runbook = "*" }', True),
        ('labels = { owner = "*" }', False),
        ('labels = { empty = "*" }', False),
        ('labels = { owner = "!*" }', True),
        ('labels = { empty = "!*" }', True),
        ('labels = { team = "!*" }', False),
        # labels: regex search, and negated
        ('labels = { env = "/^prod(-.*)?$/" }', True),
        ('labels = { env = "/eu/" }', True),
        ('labels = { env = "/^eu/" }', False),
        ('labels = { owner = "/.*/" }', False),
        ('labels = { env = "!/^staging/" }', True),
        ('labels = { env = "!/^prod/" }', False),
        ('labels = { owner = "!/^prod/" }', True),
        # labels: not equal (an absent label is not equal to anything)
        ('labels = { env = "!us-east-1" }', True),
        ('labels = { env = "!prod-eu" }', False),
        ('labels = { region = "!us-east-1" }', True),
        # title/description: contains, ignoring case; regex; non-empty; negated
        ('title = "DISK FULL"', True),
        ('title = "memory"', False),
        ('title = "/(?i)disk|filesystem/"', True),
        ('title = "/^disk/"', False),
        ('title = "*"', True),
        ('title = "!memory"', True),
        ('title = "!disk"', False),
        ('description = "checkout"', True),
        ('description = "!*"', False),
        ('description = "/ran out of (space|inodes)/"', True),
        # AND: every condition must hold
        ('severity = ["critical"]\nlabels = { team = "dba", env = "/^prod/" }', True),
        ('severity = ["critical"]\nlabels = { team = "dba", env = "/^dev/" }', False),
        ('severity = ["info"]\nlabels = { team = "dba" }', False),
        ('integration = "prometheus"\ntitle = "disk"\ndescription = "checkout"', True),
        ('integration = "prometheus"\ntitle = "disk"\ndescription = "billing"', False),
        # no conditions at all: everything matches
        ("", True),
    ],
)
def test_operators(toml: str, expected: bool) -> None:
    cond = conditions(toml)
    assert matches(cond, SUBJECT) is expected
    assert all(c.ok for c in explain(cond, SUBJECT)) is expected


@pytest.mark.parametrize(
    ("value", "label", "expected"),
    [
        (r'"\\!x"', "!x", True),  # escaped: a literal leading "!"
        (r'"\\!x"', "x", False),
        (r'"\\*"', "*", True),  # escaped: a literal "*", not "exists"
        (r'"\\*"', "anything", False),
        (r'"\\/a/"', "/a/", True),  # escaped: a literal, not a regex
        (r'"!\\!x"', "!x", False),  # "not !x"
        (r'"!\\!x"', "x", True),
        ('"/var"', "/var", True),  # a single slash is no regex
    ],
)
def test_escaped_values_are_literal(value: str, label: str, expected: bool) -> None:
    cond = conditions(f"labels = {{ k = {value} }}")
    subject = Subject(Severity.INFO, {"k": label}, "", "", None)
    assert matches(cond, subject) is expected


def test_missing_integration_fails_an_integration_condition() -> None:
    subject = Subject(Severity.INFO, {}, "", "", None)
    assert not matches(conditions('integration = "prometheus"'), subject)


def test_regex_sees_only_the_leading_characters() -> None:
    long = "x" * REGEX_SCAN_LIMIT + "needle"
    subject = Subject(Severity.INFO, {}, "", long, None)
    assert not matches(conditions('description = "/needle/"'), subject)
    assert matches(conditions('description = "needle"'), subject)  # substring: whole text


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            'labels = { env = "/^prod(/" }',
            "labels.env: invalid regex '/^prod(/': "
            "missing ), unterminated subpattern at position 5",
        ),
        (
            'labels = { env = "!/[z-a]/" }',
            "labels.env: invalid regex '!/[z-a]/': bad character range",
        ),
        ('labels = { env = ["ok", "/(/"] }', "labels.env: invalid regex '/(/'"),
        ('title = "/*disk/"', "title: invalid regex '/*disk/': nothing to repeat"),
        ('description = "/(?P<x/"', "description: invalid regex"),
        ('labels = { team = "" }', "labels.team: empty value"),
        ('labels = { team = "!" }', "labels.team: empty value"),
        ('labels = { team = "!!x" }', "labels.team: '!!x' negates twice"),
        (
            'labels = { env = ["prod", "!dev"] }',
            "labels.env: list items are plain values or /regex/",
        ),
        ('labels = { env = ["*"] }', "labels.env: list items are plain values or /regex/"),
    ],
)
def test_bad_values_are_errors_naming_the_key(toml: str, message: str) -> None:
    with pytest.raises(ValueError, match="Value error") as info:
        conditions(toml)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "toml",
    ["severity = []", "integration = []", "labels = { env = [] }", 'severity = ["fatal"]', "x = 1"],
)
def test_malformed_conditions_are_rejected(toml: str) -> None:
    with pytest.raises(ValidationError):
        conditions(toml)


def test_compiled_once_and_equal_by_value() -> None:
    toml = 'labels = { env = "/^prod/" }\ntitle = "disk"'
    first, second = conditions(toml), conditions(toml)
    assert first == second
    constructed = Conditions.model_construct(title="memory")  # no validation: compiled lazily
    assert not matches(constructed, SUBJECT)


def test_explain_reports_every_check_in_order() -> None:
    cond = conditions(
        'severity = ["critical"]\nintegration = "grafana"\n'
        'labels = { team = "web", runbook = "*" }\ntitle = "/disk/"'
    )
    assert explain(cond, SUBJECT) == [
        Check("severity", "∈ [critical]", "critical", ok=True),
        Check("integration", "∈ [grafana]", "prometheus", ok=False),
        Check("labels.team", "= 'web'", "dba", ok=False),
        Check("labels.runbook", "exists", "https://wiki/db", ok=True),
        Check("title", "~ /disk/", "Disk full on db1", ok=False),
    ]


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        (
            'severity = ["critical"]\nlabels = { team = "web" }',
            "severity critical ∈ [critical] ✓, labels.team 'dba' ≠ 'web' ✗",
        ),
        (
            'integration = ["grafana", "loki"]\nlabels = { owner = "*", region = "!us-east-1" }',
            "integration prometheus ∉ [grafana, loki] ✗, labels.owner (absent) missing ✗, "
            "labels.region (absent) ≠ 'us-east-1' ✓",
        ),
        (
            'labels = { env = ["staging", "/^prod-/"] }\ntitle = "!memory"\ndescription = "/^x/"',
            "labels.env 'prod-eu' ∈ ['staging', /^prod-/] ✓, "
            "title 'Disk full on db1' lacks 'memory' ✓, "
            "description 'The checkout database ran out of space.' !~ /^x/ ✗",
        ),
        ("", "no conditions"),
    ],
)
def test_describe_reads_as_facts(toml: str, line: str) -> None:
    assert describe(explain(conditions(toml), SUBJECT)) == line


def test_describe_shortens_long_values() -> None:
    check = Check("description", "contains 'x'", "y" * 100, ok=False)
    assert describe([check]) == f"description '{'y' * 59}…' lacks 'x' ✗"


RULES = [
    RouteRuleSettings(service="web", labels={"team": "web"}),
    RouteRuleSettings(service="paused", severity=[Severity.CRITICAL], enabled=False),
    RouteRuleSettings(service="database", name="dba pages", labels={"team": "dba"}),
    RouteRuleSettings(service="catch-all-critical", severity=[Severity.CRITICAL]),
]


def test_first_match_wins_and_disabled_rules_are_skipped() -> None:
    decision = route(RULES, "default", SUBJECT)
    assert decision.service == "database"
    assert decision.rule == 2
    assert [index for index, _ in decision.checks] == [0, 1, 2]
    assert decision.checks[1][1] == (Check("enabled", "= true", "false", ok=False),)
    assert explain_route(decision, RULES) == [
        "rule 1 (service web): labels.team 'dba' ≠ 'web' ✗",
        "rule 2 (service paused): skipped (disabled)",
        "rule 3 'dba pages' (service database): labels.team 'dba' = 'dba' ✓ → match",
        "routed to service database by rule 3",
    ]


def test_no_match_goes_to_the_default_service() -> None:
    subject = Subject(Severity.INFO, {"team": "ops"}, "t", "", "prometheus")
    decision = route(RULES, "default", subject)
    assert (decision.service, decision.rule) == ("default", None)
    assert len(decision.checks) == len(RULES)
    assert explain_route(decision, RULES)[-1] == "no rule matched: default service default"


def test_no_rules_at_all() -> None:
    decision = route([], "default", SUBJECT)
    assert decision.service == "default"
    assert decision.rule is None
    assert decision.checks == ()


def test_a_rule_without_conditions_catches_everything() -> None:
    decision = route([RouteRuleSettings(service="all")], "default", SUBJECT)
    assert (decision.service, decision.rule) == ("all", 0)


def test_current_routing_config_still_loads() -> None:
    doc = tomllib.loads(
        "[[routing.rules]]\n"
        'service = "database"\nseverity = ["critical"]\n'
        'labels = { team = "dba" }\nintegration = "prometheus"\n'
    )
    rules = [RouteRuleSettings.model_validate(r) for r in doc["routing"]["rules"]]
    assert rules[0].integration == ["prometheus"]
    assert route(rules, "default", SUBJECT).service == "database"
    assert route(rules, "default", Subject.of_event(EVENT, "grafana")).service == "default"


def test_route_rule_rejects_unknown_keys_and_needs_a_service() -> None:
    with pytest.raises(ValidationError):
        RouteRuleSettings.model_validate({"service": "x", "sevrity": ["critical"]})
    with pytest.raises(ValidationError):
        RouteRuleSettings.model_validate({"labels": {"team": "dba"}})


EVENT = AlertEvent(
    dedup_key="k",
    action=AlertAction.TRIGGER,
    title="Disk full on db1",
    severity=Severity.CRITICAL,
    description="checkout",
    labels={"team": "dba"},
)
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
INCIDENT = Incident(
    number=7,
    title="Replication lag",
    description="replica behind",
    severity=Severity.WARNING,
    status=Status.TRIGGERED,
    service="database",
    integration="grafana",
    created_at=NOW,
    updated_at=NOW,
    labels={"team": "dba", "env": "prod"},
)


def test_subject_of_event() -> None:
    subject = Subject.of_event(EVENT, "prometheus")
    assert subject == Subject(
        Severity.CRITICAL, {"team": "dba"}, "Disk full on db1", "checkout", "prometheus"
    )


def test_subject_of_incident() -> None:
    subject = Subject.of_incident(INCIDENT)
    assert subject == Subject(
        Severity.WARNING,
        {"team": "dba", "env": "prod"},
        "Replication lag",
        "replica behind",
        "grafana",
    )
    cond = conditions('severity = ["warning"]\nintegration = "grafana"\ntitle = "lag"')
    assert matches(cond, subject)
