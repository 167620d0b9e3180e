"""Notification templates: defaults per channel and event, overrides, fallback, sandbox, budgets."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from gateway.domain import AlertView, Incident, Severity, Status, TimelineEntry
from gateway.template_defaults import (
    EMAIL_TEXT_BUDGET,
    SMS_BUDGET,
    WECOM_BOT_BUDGET,
    Budget,
    fit,
    fits,
    is_gsm,
)
from gateway.templates import (
    BUDGETS,
    CHANNEL_KINDS,
    EVENT_TYPES,
    VARIABLES,
    Rendered,
    TemplateSettings,
    compile_template,
    event_type,
    render,
    sample_incident,
    sms_segments,
    variables,
)

NOW = datetime(2026, 3, 1, 10, 14, tzinfo=UTC)
URL = "https://ackgate.example.com/incidents/42?t=eyJhbGciOiJIUzI1NiJ9.token-signature"
NAMES = {"alice": "Alice Chen", "bob": "Bob Li"}
# Channel kinds whose text stands alone, so it must name the incident.
STANDALONE = (
    "sms",
    "email_subject",
    "email_text",
    *(k for k in CHANNEL_KINDS if k.endswith("_bot")),
)
EXTRA_KINDS = ("assigned", "snooze_expired", "snoozed", "severity_changed", "escalation_exhausted")


def sample_vars(event: str = "triggered", **changes: object) -> dict[str, object]:
    incident = replace(sample_incident(NOW, event), **changes)  # type: ignore[arg-type]
    return variables(
        incident, event=event, detail_url=URL, actor="alice", member_names=NAMES, now=NOW
    )


def bare_incident(**changes: object) -> Incident:
    """An incident with nothing optional: no alerts, labels, times, people or description."""
    incident = Incident(
        number=7,
        title="t",
        description="",
        severity=Severity.INFO,
        status=Status.TRIGGERED,
        service="svc",
        integration=None,
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(incident, **changes)  # type: ignore[arg-type]


def settings(doc: dict[str, dict[str, str]]) -> TemplateSettings:
    return TemplateSettings.model_validate(doc)


# --- defaults ------------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVENT_TYPES)
@pytest.mark.parametrize("channel", CHANNEL_KINDS)
def test_every_default_reads_well_within_budget(channel: str, event: str) -> None:
    result = render(None, channel, event, sample_vars(event))
    assert result.error is None
    assert not result.truncated
    assert result.text.strip() == result.text != ""
    assert fits(result.text, BUDGETS[channel])
    if channel in STANDALONE:
        assert "#42" in result.text
        assert "HighErrorRate" in result.text
    if channel == "voice":
        assert "incident 42" in result.text.lower()
        assert "High error rate" in result.text


def test_the_defaults_say_what_the_brief_asks() -> None:
    sms = render(None, "sms", "triggered", sample_vars()).text
    assert sms == f"[CRITICAL] #42 HighErrorRate on checkout - triggered 10:02 UTC. Ack: {URL}"
    assert is_gsm(sms)
    voice = render(None, "voice", "triggered", sample_vars()).text
    assert voice == (
        "Critical incident 42 on service checkout: High error rate. "
        "Press 1 to acknowledge, 2 to escalate, 3 to repeat."
    )
    subject = render(None, "email_subject", "triggered", sample_vars()).text
    assert subject == "[P1][#42] HighErrorRate"
    closed = render(None, "email_subject", "closed", sample_vars("closed")).text
    assert closed == "[P1][#42] HighErrorRate — closed by Alice Chen 10:14 UTC after 12m"


def test_chat_body_and_bot_message_by_event() -> None:
    body = render(None, "slack", "escalated", sample_vars("escalated")).text
    assert body.splitlines()[0] == "Escalated by Alice Chen to level 2: Bob Li"
    assert "Labels: env=prod, region=eu-west-1, team=payments" in body
    assert "Runbook: https://runbooks.example.com/checkout/high-error-rate" in body
    bot = render(None, "lark_bot", "acknowledged", sample_vars("acknowledged")).text
    assert bot.splitlines() == [
        "🔴 [CRITICAL] #42 HighErrorRate",
        "Acknowledged by Alice Chen 10:12 UTC",
        "Severity: critical · Service: checkout · Alerts: 3",
        f"Open: {URL}",
    ]
    comment = render(None, "telegram_bot", "commented", sample_vars("commented")).text
    assert 'Comment by Bob Li: "Payment provider latency is up too' in comment
    email = render(None, "email_text", "reminder", sample_vars("reminder")).text
    assert email.startswith("Reminder: still not acknowledged after 12m\n")
    assert "  pod=checkout-7f9c-1, severity=critical\n" in email  # only the alert's own labels
    assert email.endswith(f"Open the incident: {URL}")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("assigned", "escalated"),
        ("snooze_expired", "reopened"),
        ("snoozed", "triggered"),
        ("severity_changed", "triggered"),
        ("escalation_exhausted", "triggered"),
        ("incident.closed", "closed"),
        ("reminder", "reminder"),
    ],
)
def test_event_kinds_map_to_event_types(kind: str, expected: str) -> None:
    assert event_type(kind) == expected


def test_kinds_without_their_own_type_say_what_happened() -> None:
    snoozed = sample_vars("snoozed", status=Status.ACKNOWLEDGED)
    assert render(None, "sms", "snoozed", snoozed).text.startswith(
        "[CRITICAL] #42 HighErrorRate on checkout - "
        "snoozed by Alice Chen 10:14 UTC, now acknowledged."
    )
    assigned = render(None, "slack", "assigned", sample_vars("assigned")).text
    assert assigned.startswith("Assigned to Bob Li by Alice Chen\n")
    back = render(None, "voice", "snooze_expired", sample_vars("snooze_expired")).text
    assert back.startswith("Critical incident 42 on service checkout is back from snooze:")


AWKWARD = {
    "bare": bare_incident(),
    "acked by nobody": bare_incident(status=Status.ACKNOWLEDGED),
    "closed by the alerts": bare_incident(status=Status.CLOSED, closed_at=NOW),
    "cjk": bare_incident(
        title="支付服务错误率过高" * 20,
        description="结账服务的错误率超过阈值。" * 50,
        labels={f"标签{i}": "值" * 30 for i in range(30)},
        assignees=("张三",),
    ),
    "huge": bare_incident(
        title="T" * 5000,
        integration="x" * 5000,
        description="word " * 40_000,
        labels={f"k{i}": "v" * 500 for i in range(200)},
        assignees=tuple(f"m{i}" for i in range(300)),
        timeline=tuple(
            TimelineEntry(NOW, "commented", f"m{i}", "web", {"text": "x" * 5000}) for i in range(50)
        ),
    ),
    "alert without times": bare_incident(
        alerts=(AlertView("k", "", "", Severity.INFO, "firing", {}, {}, None, None, None, 1, NOW),),
        alert_count=1,
    ),
}


@pytest.mark.parametrize("event", [*EVENT_TYPES, *EXTRA_KINDS])
@pytest.mark.parametrize("name", AWKWARD)
def test_defaults_never_fail(name: str, event: str) -> None:
    values = variables(AWKWARD[name], event=event, detail_url=URL)
    for channel in CHANNEL_KINDS:
        result = render(None, channel, event, values)
        assert result.error is None, (channel, result.error)
        assert result.text
        assert fits(result.text, BUDGETS[channel]), channel


def test_a_cut_keeps_the_trailing_link() -> None:
    values = {"description": "告警" * 5000, "detail_url": URL}
    source = {"default": "{{ description }}\nOpen: {{ detail_url }}"}
    bot = render(settings({"wecom_bot": source}), "wecom_bot", "triggered", values)
    assert bot.truncated
    assert bot.text.endswith(f"告…\nOpen: {URL}")
    assert len(bot.text.encode()) <= 4096
    sms = render(None, "sms", "triggered", variables(AWKWARD["cjk"], event="x", detail_url=URL))
    assert sms.truncated
    assert sms.text.endswith(f"… Ack: {URL}")
    assert sms_segments(sms.text) <= 3


# --- service templates ---------------------------------------------------------------------

# The TOML shape from the configuration docs.
CHECKOUT_TOML = "\n".join(
    [
        "[services.checkout.templates.slack]",
        'triggered = "*{{ title }}* on {{ service }} — {{ alert_count }} alert(s)\\n'
        '{{ labels | labels_line }}"',
        "[services.checkout.templates.sms]",
        'default = "#{{ number }} {{ title }} is {{ status }}"',
    ]
)


def test_service_templates_override_per_event_and_by_default() -> None:
    doc = tomllib.loads(CHECKOUT_TOML)
    templates = TemplateSettings.model_validate(doc["services"]["checkout"]["templates"])
    slack = render(templates, "slack", "triggered", sample_vars())
    assert slack == Rendered(
        "*HighErrorRate* on checkout — 3 alert(s)\n"
        "alertname=HighErrorRate, env=prod, region=eu-west-1, team=payments",
        truncated=False,
    )
    acked = sample_vars("acknowledged")
    assert render(templates, "slack", "acknowledged", acked) == render(
        None, "slack", "acknowledged", acked
    )
    sms = render(templates, "sms", "closed", sample_vars("closed"))
    assert sms.text == "#42 HighErrorRate is closed"
    assert render(templates, "sms", "snooze_expired", sample_vars()).text == (
        "#42 HighErrorRate is triggered"
    )


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("ok\n{{ acked_at.x }}", "'None' has no attribute 'x' (line 2)"),
        ("{{ titel }}", "'titel' is undefined (line 1)"),
        ("{{ number + 'x' }}", "unsupported operand type(s) for +: 'int' and 'str' (line 1)"),
        (
            "{{ started_at|datetime(tz='Mars/Olympus') }}",
            "No time zone found with key Mars/Olympus",
        ),
    ],
)
def test_a_failing_service_template_falls_back_to_the_default(source: str, reason: str) -> None:
    values = sample_vars()
    result = render(settings({"slack": {"triggered": source}}), "slack", "triggered", values)
    assert result.text == render(None, "slack", "triggered", values).text
    assert result.error is not None
    assert result.error.startswith(f"slack/triggered: {reason}")
    assert result.error.endswith("; used the default")
    assert "\n" not in result.error


def test_missing_values_test_false_without_failing() -> None:
    source = "{% if labels.nope or annotations.nope %}x{% endif %}{{ labels.nope|default('-') }}"
    result = render(settings({"sms": {"default": source}}), "sms", "reminder", sample_vars())
    assert result == Rendered("-", truncated=False)


def test_templates_compile_once() -> None:
    assert compile_template("{{ number }}!") is compile_template("{{ number }}!")


# --- the sandbox ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ ''.__class__.__mro__ }}", "unsafe"),
        ("{{ cycler.__init__.__globals__ }}", "unsafe"),
        ("{{ '{0.__class__}'.format(number) }}", "unsafe"),
        ("{{ labels.update({'env': 'dev'}) }}", "unsafe"),
        ("{{ alerts.append(1) }}", "unsafe"),
        ("{{ 'x' * 10**9 }}", "repetition"),
        ("{{ 2 ** 100000 }}", "power"),
        ("{% for i in range(10**9) %}x{% endfor %}", "Range too big"),
        ("{% for i in range(999) %}{% for j in range(999) %}{% endfor %}{% endfor %}", "range()"),
    ],
)
def test_the_sandbox_refuses(source: str, reason: str) -> None:
    values = sample_vars()
    result = render(settings({"email_text": {"triggered": source}}), "email_text", "x", values)
    assert result.error is not None
    assert result.error.startswith("email_text/triggered: ")
    assert reason in result.error
    assert result.text == render(None, "email_text", "triggered", values).text
    assert values["labels"] == {
        "alertname": "HighErrorRate",
        "env": "prod",
        "region": "eu-west-1",
        "team": "payments",
    }


def test_runaway_output_is_capped_not_built() -> None:
    source = "{% for i in range(10000) %}{{ 'x' * 100000 }}{% endfor %}"  # 1 GB if built
    result = render(settings({"email_text": {"default": source}}), "email_text", "x", {})
    assert result.error is None
    assert result.truncated
    assert len(result.text) <= EMAIL_TEXT_BUDGET.max_chars  # type: ignore[operator]


# --- budgets -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 459, 3),
        ("a" * 460, 4),
        ("€" * 80, 1),  # extension characters take two septets
        ("€" * 81, 2),
        ("中" * 70, 1),
        ("中" * 71, 2),
        ("中" * 201, 3),
        ("中" * 202, 4),
        ("🔥" * 35, 1),  # two UTF-16 units each
    ],
)
def test_sms_segments(text: str, segments: int) -> None:
    assert sms_segments(text) == segments


def test_sms_budget_gsm_and_ucs2() -> None:
    gsm, cut = fit("word " * 200 + URL, SMS_BUDGET)
    assert cut
    assert is_gsm(gsm)
    assert len(gsm) <= 459
    assert gsm.endswith(f"word... {URL}")
    cjk, cut = fit("告警" * 300, SMS_BUDGET)
    assert cut
    assert len(cjk) == 201
    assert cjk.endswith("警…")
    folded, cut = fit("#42 — “HighErrorRate” … ok", SMS_BUDGET)
    assert (folded, cut) == ('#42 - "HighErrorRate" ... ok', False)


def test_wecom_card_body_keeps_eight_lines() -> None:
    source = "{% for i in range(20) %}line {{ i }}\n{% endfor %}"
    result = render(settings({"wecom": {"default": source}}), "wecom", "closed", {})
    assert result.truncated
    assert result.text.splitlines() == [*(f"line {i}" for i in range(7)), "line 7…"]


@pytest.mark.parametrize("unit", ["中", "🔥", "é", "a中🔥"])
def test_byte_budgets_never_split_a_character(unit: str) -> None:
    repeat = 20_001 // len(unit.encode()) + 1
    values = {"description": unit * repeat}
    source = {"default": "{{ description }}"}
    for channel in ("wecom_bot", "lark_bot", "dingtalk_bot", "teams"):
        result = render(settings({channel: source}), channel, "triggered", values)
        max_bytes = BUDGETS[channel].max_bytes
        assert max_bytes is not None
        assert result.truncated
        assert len(result.text.encode()) <= max_bytes
        assert len(result.text.encode()) > max_bytes - 8
        assert result.text.endswith("…")
        assert result.text[:-1] == (unit * repeat)[: len(result.text) - 1]


def test_cuts_prefer_a_line_or_word_boundary() -> None:
    text = "first line\n" + "alpha beta gamma delta " * 10
    assert fit(text, Budget(max_chars=60)) == (
        "first line\nalpha beta gamma delta alpha beta gamma delta…",
        True,
    )
    assert fit("x" * 50 + "\n" + "y" * 30, Budget(max_chars=60)) == ("x" * 50 + "…", True)
    assert fit("x" * 100, Budget(max_chars=10)) == ("x" * 9 + "…", True)
    assert fit("short", WECOM_BOT_BUDGET) == ("short", False)


def test_email_subject_is_one_line() -> None:
    source = {"default": "{{ title }}\n\n  on   {{ service }}\n" + "x" * 300}
    result = render(settings({"email_subject": source}), "email_subject", "closed", sample_vars())
    assert result.truncated
    assert len(result.text) <= 200
    assert result.text.startswith("HighErrorRate on checkout xxx")
    assert "\n" not in result.text


@pytest.mark.parametrize(
    ("count", "tail"), [(8, "k7=v"), (9, "… 1 more label"), (20, "… 12 more labels")]
)
def test_labels_line_counts_what_it_leaves_out(count: int, tail: str) -> None:
    values = {"labels": {f"k{i}": "v" for i in range(count)}}
    source = {"default": "{{ labels|labels_line }}"}
    text = render(settings({"slack": source}), "slack", "triggered", values).text
    assert text.endswith(tail)
    assert text.count("=") == min(count, 8)


def test_filters() -> None:
    source = (
        "{{ started_at|datetime }} | {{ started_at|datetime('%H:%M %Z', tz='Asia/Shanghai') }} | "
        "{{ started_at|ago }} | {{ started_at|ago(words=true) }} | {{ 11100|duration }} | "
        "{{ 90000|duration(words=true) }} | {{ acked_at|datetime }}| {{ title|spoken }} | "
        "{{ '中文字'|truncate_bytes(7) }} | {{ assigned_to|join(', ') }}"
    )
    text = render(settings({"email_text": {"default": source}}), "email_text", "x", sample_vars())
    assert text.text == (
        "2026-03-01 10:02 UTC | 18:02 CST | 12m | 12 minutes | 3h 5m | 1 day 1 hour | "
        "| High error rate | 中… | Alice Chen, Bob Li"
    )


# --- config validation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"fax": {"triggered": "x"}}, "unknown channel kind 'fax' in templates"),
        ({"slack": {"snoozed": "x"}}, "unknown event type 'snoozed' in templates.slack"),
        ({"sms": {"triggered": "ok\n{% if %}"}}, r"templates\.sms\.triggered: line 2: Expected"),
        ({"voice": {"default": "{{ title|nope }}"}}, r"templates\.voice\.default: line 1: .*nope"),
    ],
)
def test_config_errors_name_the_problem(doc: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(doc)


def test_render_refuses_an_unknown_channel() -> None:
    with pytest.raises(ValueError, match="unknown channel kind 'fax'"):
        render(None, "fax", "triggered", {})


# --- variables -----------------------------------------------------------------------------


def test_variables_of_a_bare_incident() -> None:
    values = variables(bare_incident(), event="triggered", detail_url=URL)
    assert set(values) == set(VARIABLES)
    assert values["annotations"] == {}
    assert values["alerts"] == []
    assert values["alert_count"] == 0
    assert values["labels"] == {}
    assert values["started_at"] == NOW
    assert values["acked_at"] is None
    assert values["closed_at"] is None
    assert values["acked_by"] is None
    assert values["source_url"] is None
    assert values["runbook_url"] is None
    assert values["assigned_to"] == []
    assert values["responders"] == []
    assert values["comments"] == []
    assert values["escalation_level"] == 1
    assert values["is_reminder"] is False
    assert values["actor"] is None


def test_variables_of_a_busy_incident() -> None:
    alert = AlertView(
        "k",
        "Disk full",
        "95% used",
        Severity.WARNING,
        "firing",
        {"host": "db1"},
        {"annotations": {"runbook_url": "https://rb.example.com/disk", "n": 1}},
        NOW - timedelta(minutes=5),
        None,
        "https://prom.example.com/g",
        2,
        NOW,
    )
    incident = bare_incident(
        status=Status.ACKNOWLEDGED,
        acked_by="carol",
        acked_at=NOW,
        assignees=("alice", "bob"),
        escalation_step=2,
        alerts=(alert,),
        alert_count=1,
        timeline=(
            TimelineEntry(NOW, "commented", "bob", "slack", {"text": "on it"}),
            TimelineEntry(NOW, "acknowledged", "carol", "web"),
        ),
    )
    values = variables(
        incident, event="reminder", detail_url=URL, actor="carol", member_names=NAMES
    )
    assert values["description"] == "95% used"
    assert values["annotations"] == {"runbook_url": "https://rb.example.com/disk"}
    assert values["runbook_url"] == "https://rb.example.com/disk"
    assert values["source_url"] == "https://prom.example.com/g"
    assert values["assigned_to"] == ["Alice Chen", "Bob Li"]
    assert values["responders"] == [
        {"member": "alice", "name": "Alice Chen", "acked_at": None},
        {"member": "bob", "name": "Bob Li", "acked_at": None},
        {"member": "carol", "name": "carol", "acked_at": NOW},
    ]
    assert values["comments"] == [{"at": NOW, "actor": "Bob Li", "text": "on it"}]
    assert values["alerts"] == [
        {
            "title": "Disk full",
            "description": "95% used",
            "severity": "warning",
            "status": "firing",
            "labels": {"host": "db1"},
            "starts_at": NOW - timedelta(minutes=5),
            "source_url": "https://prom.example.com/g",
        }
    ]
    assert values["escalation_level"] == 3
    assert values["is_reminder"] is True
    assert values["event"] == "reminder"
    assert values["actor"] == "carol"
