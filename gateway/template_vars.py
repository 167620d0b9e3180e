"""What templates see: the variables built from an incident, the filters, a sample incident.

``VARIABLES`` and ``FILTERS`` document them (name → description with an example) for the README.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context

from gateway.domain import AlertView, Incident, Severity, Status, TimelineEntry
from gateway.template_defaults import ELLIPSIS

EVENT_TYPES = (
    "triggered",
    "acknowledged",
    "closed",
    "reopened",
    "escalated",
    "commented",
    "reminder",
)
# Timeline kinds without a type of their own; any other unknown kind uses ``triggered``,
# whose default shape names the kind and the incident's status.
EVENT_ALIASES: Mapping[str, str] = {"assigned": "escalated", "snooze_expired": "reopened"}

ALERTS_MAX = 50  # alerts passed to templates; ``alert_count`` still counts them all
COMMENTS_MAX = 20  # the latest comments passed to templates
LABELS_LINE_MAX = 8
LABEL_VALUE_MAX_CHARS = 100

# New user-visible words (English only for now).
SENTENCES: Mapping[str, str] = {
    "more_labels": "… {n} more labels",
    "more_label": "… 1 more label",
}

VARIABLES: Mapping[str, str] = {
    "number": "the incident number, e.g. 42",
    "title": "the incident title, e.g. HighErrorRate",
    "description": "the incident description, or its first alert's when empty, e.g. "
    "5xx ratio above 5% for 5 minutes",
    "severity": "critical, warning or info",
    "status": "triggered, acknowledged or closed",
    "service": "the service name, e.g. checkout",
    "labels": "the labels all alerts share (dict), e.g. {'env': 'prod', 'team': 'payments'}",
    "annotations": "the first alert's annotations (dict), e.g. {'runbook_url': 'https://…'}",
    "alert_count": "how many alerts the incident has, e.g. 3",
    "alerts": f"the first {ALERTS_MAX} alerts (list of dicts: title, description, severity, "
    "status, labels, starts_at, source_url), e.g. alerts[0].title",
    "started_at": "when the incident opened (datetime), e.g. started_at|datetime",
    "acked_at": "when it was acknowledged (datetime or None)",
    "closed_at": "when it was closed (datetime or None)",
    "acked_by": "who acknowledged it (member name or None), e.g. Alice Chen",
    "closed_by": "who closed it (member name or None; None when all alerts resolved)",
    "assigned_to": "who is paged now (list of member names), e.g. assigned_to|join(', ')",
    "responders": "assignees and whoever acknowledged (list of dicts: member, name, acked_at)",
    "escalation_level": "the escalation level now paged, from 1, e.g. 2",
    "detail_url": "the incident page (signed for the recipient when personal), e.g. "
    "https://ackgate.example.com/incidents/42?t=…",
    "source_url": "the first alert's link to its source, e.g. a Prometheus graph URL, or None",
    "runbook_url": "the first runbook_url annotation of any alert, or None",
    "is_reminder": "true when this notification repeats an earlier one",
    "comments": f"the latest {COMMENTS_MAX} comments (list of dicts: at, actor, text)",
    "event": f"the event type: one of {', '.join(EVENT_TYPES)}",
    "event_kind": "what happened as the timeline calls it, e.g. snoozed (event says triggered)",
    "actor": "who caused the event (member name or None), e.g. Bob Li",
    "now": "the event's time (datetime); what ``ago`` measures to",
}

FILTERS: Mapping[str, str] = {
    "datetime": "datetime(fmt='%Y-%m-%d %H:%M %Z', tz='UTC'): started_at|datetime('%H:%M %Z') "
    "→ 10:02 UTC; empty for None",
    "ago": "ago(words=false): the time from a datetime to ``now``: 12m, 3h 5m, 2d 1h; "
    "words=true says 12 minutes",
    "duration": "duration(end=None, words=false): a timedelta or seconds, or from a datetime "
    "to ``end``: started_at|duration(closed_at) → 28m",
    "labels_line": f"labels_line(limit={LABELS_LINE_MAX}, skip=()): sorted k=v pairs, leaving "
    "out the keys in skip (a list or a dict): env=prod, team=payments, … 3 more labels",
    "truncate_bytes": "truncate_bytes(n, end='…'): at most n UTF-8 bytes, never half a character",
    "spoken": "readable aloud: HighErrorRate → High error rate",
    "join": "Jinja's join; every other Jinja built-in filter works too",
}


def event_type(kind: str) -> str:
    """The event type whose template renders timeline kind ``kind`` (``incident.`` prefix ok)."""
    kind = kind.removeprefix("incident.")
    return kind if kind in EVENT_TYPES else EVENT_ALIASES.get(kind, "triggered")


# --- variables -----------------------------------------------------------------------------


def variables(
    incident: Incident,
    *,
    event: str,
    detail_url: str,
    actor: str | None = None,
    member_names: Mapping[str, str] | None = None,
    is_reminder: bool = False,
    now: datetime | None = None,
) -> dict[str, object]:
    """The template variables (see VARIABLES) for ``event`` on ``incident``.

    Args:
        incident: The incident, with its alerts and timeline loaded.
        event: The timeline kind (``triggered``, ``snoozed``…) or an event type.
        detail_url: The incident page link to put in the message.
        actor: The member who caused the event, if any.
        member_names: Member id → display name; ids without a name show as themselves.
        is_reminder: This notification repeats an earlier one (also implied by ``reminder``).
        now: The event's time, for ``ago``; the incident's ``updated_at`` when omitted.
    """
    names = member_names or {}

    def name(member: str | None) -> str | None:
        return None if member is None else names.get(member, member)

    first = incident.alerts[0] if incident.alerts else None
    people = list(dict.fromkeys([*incident.assignees, *filter(None, [incident.acked_by])]))
    kind = event.removeprefix("incident.")
    return {
        "number": incident.number,
        "title": incident.title,
        "description": incident.description.strip() or (first.description if first else ""),
        "severity": incident.severity.value,
        "status": incident.status.value,
        "service": incident.service,
        "labels": dict(incident.labels),
        "annotations": _annotations(first),
        "alert_count": incident.alert_count or len(incident.alerts),
        "alerts": [_alert(alert) for alert in incident.alerts[:ALERTS_MAX]],
        "started_at": incident.created_at,
        "acked_at": incident.acked_at,
        "closed_at": incident.closed_at,
        "acked_by": name(incident.acked_by),
        "closed_by": name(incident.closed_by),
        "assigned_to": [name(member) for member in incident.assignees],
        "responders": [
            {
                "member": member,
                "name": name(member),
                "acked_at": incident.acked_at if member == incident.acked_by else None,
            }
            for member in people
        ],
        "escalation_level": incident.escalation_step + 1,
        "detail_url": detail_url,
        "source_url": next((a.source_url for a in incident.alerts if a.source_url), None),
        "runbook_url": next(
            (url for a in incident.alerts if (url := _annotations(a).get("runbook_url"))), None
        ),
        "is_reminder": is_reminder or event_type(kind) == "reminder",
        "comments": [
            {"at": entry.at, "actor": name(entry.actor), "text": str(entry.data.get("text", ""))}
            for entry in incident.timeline
            if entry.kind == "commented"
        ][-COMMENTS_MAX:],
        "event": event_type(kind),
        "event_kind": kind,
        "actor": name(actor),
        "now": now or incident.updated_at,
    }


def _annotations(alert: AlertView | None) -> dict[str, str]:
    """``details.annotations``, else the string details (Alertmanager stores annotations flat)."""
    if alert is None:
        return {}
    nested = alert.details.get("annotations")
    source = nested if isinstance(nested, Mapping) else alert.details
    return {str(k): v for k, v in source.items() if isinstance(v, str)}


def _alert(alert: AlertView) -> dict[str, object]:
    return {
        "title": alert.title,
        "description": alert.description,
        "severity": alert.severity.value,
        "status": alert.status,
        "labels": dict(alert.labels),
        "starts_at": alert.starts_at,
        "source_url": alert.source_url,
    }


# --- filters -------------------------------------------------------------------------------


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _datetime(value: object, fmt: str = "%Y-%m-%d %H:%M %Z", tz: str = "UTC") -> str:
    moment = _as_datetime(value)
    return "" if moment is None else moment.astimezone(ZoneInfo(tz)).strftime(fmt)


def _duration(value: object, end: object = None, words: bool = False) -> str:
    if isinstance(value, timedelta):
        span = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        span = timedelta(seconds=value)
    else:
        start, stop = _as_datetime(value), _as_datetime(end)
        if start is None or stop is None:
            return ""
        span = stop - start
    seconds = max(int(span.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} second{'s' * (seconds != 1)}" if words else f"{seconds}s"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "d", "day"), (hours, "h", "hour"), (minutes, "m", "minute")]
    while parts[0][0] == 0:
        parts.pop(0)
    shown = [p for p in parts[:2] if p[0]]  # two units say enough: 2d 3h, 1h 5m, 7m
    if words:
        return " ".join(f"{n} {word}{'s' * (n != 1)}" for n, _, word in shown)
    return " ".join(f"{n}{unit}" for n, unit, _ in shown)


@pass_context
def _ago(context: Context, value: object, words: bool = False) -> str:
    return _duration(value, context.get("now"), words)


def _labels_line(labels: object, limit: int = LABELS_LINE_MAX, skip: object = ()) -> str:
    if not isinstance(labels, Mapping):
        return ""
    skipped = set(skip) if isinstance(skip, Mapping | list | tuple | set | frozenset) else {skip}
    items = [
        f"{key}={_clip(str(value), LABEL_VALUE_MAX_CHARS)}"
        for key, value in sorted(labels.items(), key=lambda kv: str(kv[0]))
        if key not in skipped
    ]
    shown, more = items[:limit], len(items) - min(limit, len(items))
    if more:
        shown.append(
            SENTENCES["more_label"] if more == 1 else SENTENCES["more_labels"].format(n=more)
        )
    return ", ".join(shown)


def truncate_bytes(value: object, max_bytes: int, end: str = ELLIPSIS) -> str:
    """``value`` in at most ``max_bytes`` UTF-8 bytes with ``end`` when cut; whole characters."""
    text = str(value)
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    room = max_bytes - len(end.encode())
    if room < 0:
        return ""
    return data[:room].decode("utf-8", "ignore") + end  # "ignore" drops a split last character


_CAMEL_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")


def _spoken(value: object) -> str:
    words: list[str] = []
    for token in str(value).split():
        if _IDENTIFIER.fullmatch(token) and ("_" in token or re.search(r"[a-z][A-Z]", token)):
            parts = [w for chunk in token.split("_") for w in _CAMEL_WORD.findall(chunk)]
            words.extend(w if w.isupper() and len(w) > 1 else w.lower() for w in parts)
        else:
            words.append(token)
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def _clip(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + ELLIPSIS


FILTER_FUNCTIONS: Mapping[str, Callable[..., str]] = {
    "datetime": _datetime,
    "ago": _ago,
    "duration": _duration,
    "labels_line": _labels_line,
    "truncate_bytes": truncate_bytes,
    "spoken": _spoken,
}


# --- a sample ------------------------------------------------------------------------------


def sample_incident(now: datetime, event: str = "triggered") -> Incident:
    """A realistic made-up incident, #42 HighErrorRate on checkout, as ``event`` left it.

    It started 12 minutes before ``now`` and has three firing alerts with labels and
    annotations (summary, description, runbook), two assignees (``alice``, ``bob``) and a
    comment by ``bob``. ``acknowledged`` has alice acknowledge it 2 minutes ago, ``closed``
    has her close it now, ``escalated`` pages bob at level 2. It is for previewing templates.
    """
    started = now - timedelta(minutes=12)
    common = {
        "alertname": "HighErrorRate",
        "env": "prod",
        "region": "eu-west-1",
        "team": "payments",
    }
    runbook = "https://runbooks.example.com/checkout/high-error-rate"
    alerts = tuple(
        AlertView(
            dedup_key=f"fp-{pod}",
            title="HighErrorRate",
            description=f"5xx ratio is {ratio}% on {pod} (threshold 5% for 5m).",
            severity=Severity.CRITICAL,
            status="firing",
            labels={**common, "severity": "critical", "pod": pod},
            details={
                "summary": "HighErrorRate",
                "description": f"5xx ratio is {ratio}% on {pod} (threshold 5% for 5m).",
                "runbook_url": runbook,
            },
            starts_at=started - timedelta(minutes=1),
            ends_at=None,
            source_url="https://prometheus.example.com/graph?g0.expr=job%3Acheckout_5xx%3Aratio",
            count=1,
            last_seen=now,
        )
        for pod, ratio in (
            ("checkout-7f9c-1", "7.2"),
            ("checkout-7f9c-2", "6.8"),
            ("checkout-7f9c-3", "5.4"),
        )
    )
    timeline = (
        TimelineEntry(at=started, kind="triggered", actor=None, source="prometheus"),
        TimelineEntry(
            at=now - timedelta(minutes=3),
            kind="commented",
            actor="bob",
            source="slack",
            data={"text": "Payment provider latency is up too; checking their status page."},
        ),
    )
    incident = Incident(
        number=42,
        title="HighErrorRate",
        description="5xx ratio above 5% for 5 minutes on checkout-api in eu-west-1.",
        severity=Severity.CRITICAL,
        status=Status.TRIGGERED,
        service="checkout",
        integration="prometheus",
        created_at=started,
        updated_at=now,
        assignees=("alice", "bob"),
        escalate_at=now + timedelta(minutes=3),
        alert_count=len(alerts),
        labels=common,
        alerts=alerts,
        timeline=timeline,
    )
    kind = event_type(event)
    if kind in ("acknowledged", "closed"):
        incident = replace(
            incident,
            status=Status.ACKNOWLEDGED,
            acked_by="alice",
            acked_at=now - timedelta(minutes=2),
        )
    if kind == "closed":
        incident = replace(incident, status=Status.CLOSED, closed_by="alice", closed_at=now)
    if kind == "escalated":
        incident = replace(incident, assignees=("bob",), escalation_step=1)
    return incident
