"""build_card: what a card says for each status, language, viewer and awkward input."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from cards.build import (
    ALERT_LINKS_MAX,
    LABELS_MAX,
    SUMMARY_MAX,
    TIMELINE_MAX,
    TITLE_MAX,
    Viewer,
    build_card,
)
from cards.callback import encode
from cards.model import Field, Link, Tone
from gateway.domain import AlertView, Incident, JSONObject, Severity, Status, TimelineEntry, Verb
from gateway.wire import incident_json
from tests.cards import samples
from tests.cards.samples import entry

LINK = "https://ackgate.example.com/incidents/42?t=token"


def with_status(status: Status) -> JSONObject:
    return {
        Status.TRIGGERED: samples.triggered,
        Status.ACKNOWLEDGED: samples.acknowledged,
        Status.CLOSED: samples.closed,
    }[status]()


def test_samples_have_the_wire_shape() -> None:
    at = datetime(2026, 3, 1, 10, tzinfo=UTC)
    alert = AlertView("k", "t", "", Severity.INFO, "firing", {}, {}, at, None, None, 1, at)
    wire = incident_json(
        Incident(
            number=1,
            title="t",
            description="",
            severity=Severity.INFO,
            status=Status.TRIGGERED,
            service="s",
            integration=None,
            created_at=at,
            updated_at=at,
            alerts=(alert,),
            timeline=(TimelineEntry(at, "triggered", None, "x"),),
        ),
        details=True,
    )
    doc = samples.closed()
    assert doc.keys() == wire.keys()
    assert doc["alerts"][0].keys() == wire["alerts"][0].keys()
    assert doc["timeline"][0].keys() == wire["timeline"][0].keys()


def test_acknowledged_card() -> None:
    card = build_card(samples.acknowledged(), Viewer(link=LINK))
    assert card.incident == 42
    assert card.title == "#42 HighErrorRate on checkout"
    assert (card.severity, card.tone, card.emoji) == (Severity.CRITICAL, Tone.DANGER, "🔴")
    assert card.status is Status.ACKNOWLEDGED
    assert card.status_line == "Acknowledged by alice · 10:02"
    assert card.summary == "5xx ratio above 5% for 10 minutes on checkout-api."
    assert card.fields == (
        Field("Service", "checkout"),
        Field("Severity", "Critical"),
        Field("Alerts", "2"),
        Field("Started", "2026-03-01 10:00 UTC"),
        Field("Duration", "2m"),
        Field("Assignees", "alice"),
        Field("env", "prod"),
        Field("region", "eu-west-1"),
        Field("team", "payments"),
    )
    assert card.links == (
        Link("Open incident", LINK),
        Link("Runbook", "https://runbooks.example.com/checkout-5xx"),
        Link("Dashboard", "https://grafana.example.com/d/checkout"),
        Link("Panel", "https://grafana.example.com/d/checkout?viewPanel=2"),
        Link("Source", "https://prometheus.example.com/graph?g0.expr=rate"),
    )
    assert card.timeline == ("10:00 triggered (prometheus)", "10:02 alice acknowledged (slack)")
    assert card.fallback == "🔴 #42 HighErrorRate on checkout — Acknowledged by alice · 10:02"


@pytest.mark.parametrize(
    ("status", "verbs"),
    [
        (Status.TRIGGERED, [Verb.ACK, Verb.CLOSE, Verb.ESCALATE, Verb.COMMENT]),
        (Status.ACKNOWLEDGED, [Verb.CLOSE, Verb.ESCALATE, Verb.COMMENT]),
        (Status.CLOSED, [Verb.REOPEN, Verb.COMMENT]),
    ],
)
def test_buttons_follow_status(status: Status, verbs: list[Verb]) -> None:
    card = build_card(with_status(status))
    assert [b.verb for b in card.buttons] == verbs
    assert [b.data for b in card.buttons] == [encode(v, 42) for v in verbs]


def test_button_looks() -> None:
    looks = {
        b.verb: (b.label, b.style, b.needs_input)
        for status in Status
        for b in build_card(with_status(status)).buttons
    }
    assert looks == {
        Verb.ACK: ("Acknowledge", "primary", False),
        Verb.CLOSE: ("Close", "danger", False),
        Verb.ESCALATE: ("Escalate", "default", True),
        Verb.COMMENT: ("Add comment", "default", True),
        Verb.REOPEN: ("Reopen", "default", False),
    }


@pytest.mark.parametrize(
    ("status", "allowed", "verbs"),
    [
        (Status.TRIGGERED, {Verb.ACK, Verb.CLOSE}, [Verb.ACK, Verb.CLOSE]),
        (Status.ACKNOWLEDGED, {Verb.ACK, Verb.CLOSE}, [Verb.CLOSE]),
        (Status.CLOSED, {Verb.ACK, Verb.CLOSE}, []),
        # A verb the status does not offer is never added, whatever the service allows.
        (Status.CLOSED, {Verb.ACK, Verb.SNOOZE, Verb.COMMENT}, [Verb.COMMENT]),
        (Status.TRIGGERED, set(), []),
    ],
)
def test_viewer_buttons_narrow_the_default_set(
    status: Status, allowed: set[Verb], verbs: list[Verb]
) -> None:
    card = build_card(with_status(status), Viewer(buttons=frozenset(allowed)))
    assert [b.verb for b in card.buttons] == verbs


def snoozed(until: str) -> JSONObject:
    doc = samples.acknowledged()
    doc["snoozed_until"] = until
    return doc


def resolved() -> JSONObject:
    doc = samples.closed()
    doc["closed_by"] = None
    return doc


@pytest.mark.parametrize(
    ("doc", "lang", "line"),
    [
        (samples.triggered(), "en", "Triggered"),
        (samples.triggered(), "zh", "已触发"),
        (samples.acknowledged(), "en", "Acknowledged by alice · 10:02"),
        (samples.acknowledged(), "zh", "已由 alice 认领 · 10:02"),
        (samples.closed(), "en", "Closed by alice · 11:05"),
        (samples.closed(), "zh", "已由 alice 关闭 · 11:05"),
        (resolved(), "en", "Closed: all alerts resolved · 11:05"),
        (resolved(), "zh", "已关闭：告警均已恢复 · 11:05"),
        (
            snoozed("2026-03-01T10:32:00Z"),
            "en",
            "Acknowledged by alice · 10:02 · Snoozed until 10:32",
        ),
        (
            snoozed("2026-03-02T09:00:00Z"),
            "en",
            "Acknowledged by alice · 10:02 · Snoozed until 2026-03-02 09:00",
        ),
        (snoozed("2026-03-01T10:32:00Z"), "zh", "已由 alice 认领 · 10:02 · 暂缓至 10:32"),
        (samples.acknowledged(), "fr", "Acknowledged by alice · 10:02"),
    ],
)
def test_status_line(doc: JSONObject, lang: str, line: str) -> None:
    card = build_card(doc, Viewer(lang=lang))
    assert card.status_line == line
    assert card.fallback.endswith(f" — {line}")


def test_times_are_shown_in_utc() -> None:
    doc = samples.acknowledged()
    doc["acked_at"] = "2026-03-01T18:02:00+08:00"
    assert build_card(doc).status_line == "Acknowledged by alice · 10:02"


def test_zh_card() -> None:
    card = build_card(samples.closed(), Viewer(lang="zh", link=LINK))
    labels = ["服务", "级别", "告警", "开始时间", "持续时间", "处理人"]
    assert [f.label for f in card.fields[:6]] == labels
    assert card.fields[1].value == "严重"
    assert card.fields[4].value == "1小时 5分钟"
    assert [b.label for b in card.buttons] == ["重新打开", "添加评论"]
    assert card.links[0] == Link("打开事件", LINK)
    assert card.timeline[-1] == "11:05 alice 关闭（slack）"


@pytest.mark.parametrize(
    ("severity", "status", "tone", "emoji"),
    [
        ("critical", Status.TRIGGERED, Tone.DANGER, "🔴"),
        ("warning", Status.TRIGGERED, Tone.WARNING, "🟠"),
        ("info", Status.ACKNOWLEDGED, Tone.INFO, "🔵"),
        ("critical", Status.CLOSED, Tone.SUCCESS, "✅"),
        ("info", Status.CLOSED, Tone.SUCCESS, "✅"),
    ],
)
def test_tone_and_emoji(severity: str, status: Status, tone: Tone, emoji: str) -> None:
    doc = with_status(status)
    doc["severity"] = severity
    card = build_card(doc)
    assert (card.severity, card.tone, card.emoji) == (Severity(severity), tone, emoji)
    assert card.fallback.startswith(f"{emoji} #42 ")


def test_snoozed_card_is_neutral_but_keeps_its_emoji() -> None:
    card = build_card(snoozed("2026-03-01T10:32:00Z"))
    assert (card.tone, card.emoji) == (Tone.NEUTRAL, "🔴")


@pytest.mark.parametrize(
    ("created", "updated", "closed", "duration"),
    [
        ("2026-03-01T10:00:00Z", "2026-03-01T10:00:59Z", None, "0m"),
        ("2026-03-01T10:00:00Z", "2026-03-01T10:07:00Z", None, "7m"),
        ("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", None, "1h 0m"),
        ("2026-03-01T10:00:00Z", "2026-03-03T13:05:00Z", None, "2d 3h"),
        ("2026-03-01T10:00:00Z", "2026-03-09T00:00:00Z", "2026-03-01T10:45:00Z", "45m"),
        # Clocks that disagree never show a negative duration.
        ("2026-03-01T10:00:00Z", "2026-03-01T09:59:00Z", None, "0m"),
    ],
)
def test_duration_ends_at_close_or_last_update(
    created: str, updated: str, closed: str | None, duration: str
) -> None:
    doc = samples.triggered()
    doc.update(created_at=created, updated_at=updated, closed_at=closed)
    assert build_card(doc).fields[4] == Field("Duration", duration)


def test_no_wall_clock() -> None:
    doc = samples.triggered()
    doc.update(created_at="2001-02-03T04:05:00Z", updated_at="2001-02-03T05:05:00Z")
    first = build_card(doc, Viewer(link=LINK))
    # Same input, same card; and an old open incident lasts until its last update, not "now".
    assert build_card(copy.deepcopy(doc), Viewer(link=LINK)) == first
    assert first.fields[3:5] == (
        Field("Started", "2001-02-03 04:05 UTC"),
        Field("Duration", "1h 0m"),
    )


def test_input_is_not_changed() -> None:
    doc = samples.closed()
    before = copy.deepcopy(doc)
    build_card(doc)
    assert doc == before


def test_summary_prefers_the_incident_description() -> None:
    doc = samples.triggered()
    doc["description"] = "  Checkout is failing.  "
    assert build_card(doc).summary == "Checkout is failing."


def test_summary_without_any_description() -> None:
    doc = samples.triggered()
    for alert in doc["alerts"]:
        alert["description"] = ""
    assert build_card(doc).summary == ""


def test_long_text_is_truncated() -> None:
    doc = samples.triggered()
    doc["description"] = "x" * 10_000
    doc["title"] = "y" * 1_000
    doc["labels"]["env"] = "z" * 5_000
    card = build_card(doc)
    assert len(card.summary) == SUMMARY_MAX
    assert card.summary.endswith("x…")
    assert len(card.title) == TITLE_MAX
    assert card.title.startswith("#42 yyy")
    assert card.title.endswith("…")
    env = next(f for f in card.fields if f.label == "env")
    assert len(env.value) < 300
    assert env.value.endswith("…")


def test_labels_sorted_skipping_name_and_severity() -> None:
    doc = samples.triggered()
    doc["labels"] = {f"k{i:02}": f"v{i}" for i in range(40, 0, -1)}
    doc["labels"].update(alertname="A", severity="critical")
    labels = [(f.label, f.value) for f in build_card(doc).fields[6:]]
    assert labels == [(f"k{i:02}", f"v{i}") for i in range(1, LABELS_MAX + 1)]


def test_without_details() -> None:
    doc = samples.acknowledged()
    del doc["alerts"], doc["timeline"]
    card = build_card(doc, Viewer(link=LINK))
    assert card.links == (Link("Open incident", LINK),)
    assert card.timeline == ()
    assert card.summary == ""
    assert card.fields[2] == Field("Alerts", "2")
    assert card.status_line == "Acknowledged by alice · 10:02"


def test_no_assignees_no_field() -> None:
    doc = samples.triggered()
    doc["assignees"] = []
    assert "Assignees" not in [f.label for f in build_card(doc).fields]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "data:text/html,<script>x</script>",
        "ftp://files.example.com/runbook",
        "file:///etc/passwd",
        "//runbooks.example.com/x",
        "runbooks.example.com/x",
        "http://",
        "https:///path",
        "https://exa mple.com/",
        "https://example.com/\nx",
        "http://[::1",
        "",
        42,
        None,
        ["https://example.com/"],
    ],
)
def test_links_only_http_and_https(url: object) -> None:
    doc = samples.triggered()
    doc["alerts"] = [
        {**doc["alerts"][0], "details": {"runbook_url": url}, "source_url": None},
    ]
    assert build_card(doc).links == ()


def test_link_schemes_in_any_case_and_deduplicated() -> None:
    doc = samples.triggered()
    doc["alerts"] = [
        {
            **doc["alerts"][0],
            "details": {
                "runbook_url": "HTTPS://runbooks.example.com/a",
                "dashboard_url": "http://grafana.example.com/d/1",
                "dashboardURL": "http://grafana.example.com/d/1",
                "source_url": "https://source.example.com/x",
            },
            # The annotation wins over the alert's own source link.
            "source_url": "https://prometheus.example.com/graph",
        },
        {**doc["alerts"][1], "details": {"runbook_url": "https://runbooks.example.com/b"}},
    ]
    assert build_card(doc).links == (
        Link("Runbook", "HTTPS://runbooks.example.com/a"),
        Link("Runbook", "https://runbooks.example.com/b"),
        Link("Dashboard", "http://grafana.example.com/d/1"),
        Link("Source", "https://source.example.com/x"),
        Link("Source", "https://prometheus.example.com/graph?g0.expr=rate"),  # the second alert's
    )


def test_alert_links_are_capped() -> None:
    doc = samples.triggered()
    doc["alerts"] = [
        {**doc["alerts"][0], "details": {"runbook_url": f"https://r.example.com/{i}"}}
        for i in range(20)
    ]
    card = build_card(doc, Viewer(link=LINK))
    assert len(card.links) == 1 + ALERT_LINKS_MAX


def test_timeline_keeps_the_last_entries() -> None:
    doc = samples.closed()
    doc["timeline"] += [
        entry("2026-03-01T11:06:00Z", "reopened", "bob", "telegram"),
        entry("2026-03-01T11:20:00Z", "escalated", None, "escalation", step=1),
        entry("2026-03-01T11:21:00Z", "assigned", "carol", "web", assignees=["dave"]),
        entry("2026-03-01T11:22:00Z", "something_new", "carol", "web"),
    ]
    card = build_card(doc)
    assert len(card.timeline) == TIMELINE_MAX
    assert card.timeline == (
        "11:05 alice closed (slack)",
        "11:06 bob reopened (telegram)",
        "11:20 escalated (escalation)",
        "11:21 carol assigned (web)",
        "11:22 carol something new (web)",
    )
