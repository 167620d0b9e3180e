"""Incident JSON and viewer → Card: the one place that decides what a card says."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cards import callback
from cards.model import (
    Button,
    ButtonStyle,
    Card,
    DigestCard,
    DigestEntry,
    Field,
    Link,
    Tone,
    clip,
)
from gateway import messages
from gateway.domain import JSONObject, Severity, Status, Verb

TITLE_MAX = 150  # Slack's header limit, and about what fits a phone notification
SUMMARY_MAX = 600
VALUE_MAX = 200
LABELS_MAX = 6
ALERT_LINKS_MAX = 6
TIMELINE_MAX = 5
ENTRY_MAX = 150
SKIPPED_LABELS = frozenset({"alertname", "severity"})  # already the title and a field

DEFAULT_BUTTONS: Mapping[Status, tuple[Verb, ...]] = {
    Status.TRIGGERED: (Verb.ACK, Verb.CLOSE, Verb.ESCALATE, Verb.COMMENT),
    Status.ACKNOWLEDGED: (Verb.CLOSE, Verb.ESCALATE, Verb.COMMENT),
    Status.CLOSED: (Verb.REOPEN, Verb.COMMENT),
}

# verb → (message key of its label, style, whether pressing it asks for more input)
_BUTTONS: Mapping[Verb, tuple[str, ButtonStyle, bool]] = {
    Verb.ACK: ("web_button_ack", "primary", False),
    Verb.CLOSE: ("web_button_close", "danger", False),
    Verb.ESCALATE: ("web_button_escalate", "default", True),
    Verb.COMMENT: ("web_button_comment", "default", True),
    Verb.REOPEN: ("web_button_reopen", "default", False),
}

_EMOJI = {Severity.CRITICAL: "🔴", Severity.WARNING: "🟠", Severity.INFO: "🔵"}
_CLOSED_EMOJI = "✅"
_TONE = {Severity.CRITICAL: Tone.DANGER, Severity.WARNING: Tone.WARNING, Severity.INFO: Tone.INFO}

# alert ``details`` key → message key of the link's label, in the order links are shown
_LINK_KEYS = (
    ("runbook_url", "card_link_runbook"),
    ("dashboardURL", "card_link_dashboard"),
    ("dashboard_url", "card_link_dashboard"),
    ("panelURL", "card_link_panel"),
    ("source_url", "card_link_source"),
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who the card is for: their language, their signed incident link, the buttons to offer.

    ``buttons`` narrows the status's default set (a service that wants fewer buttons);
    None offers the whole default set.
    """

    lang: str = "en"
    link: str | None = None
    buttons: frozenset[Verb] | None = None


DEFAULT_VIEWER = Viewer()


def build_card(incident: JSONObject, viewer: Viewer = DEFAULT_VIEWER) -> Card:
    """The card for ``incident`` (``gateway.wire.incident_json`` output) as ``viewer`` sees it.

    Pure: every time on the card comes from the incident, never from the clock.
    """
    lang = viewer.lang
    number = int(incident["number"])
    severity = Severity(incident["severity"])
    status = Status(incident["status"])
    snoozed = status is Status.ACKNOWLEDGED and incident.get("snoozed_until") is not None
    alerts: Sequence[JSONObject] = incident.get("alerts") or ()
    title = clip(f"#{number} {incident['title']}", TITLE_MAX)
    emoji = _CLOSED_EMOJI if status is Status.CLOSED else _EMOJI[severity]
    status_line = _status_line(incident, status, lang)
    links = [Link(messages.text("card_link_open", lang), viewer.link)] if viewer.link else []
    links.extend(_alert_links(alerts, lang))
    return Card(
        incident=number,
        title=title,
        severity=severity,
        tone=_tone(severity, status, snoozed=snoozed),
        emoji=emoji,
        status=status,
        status_line=status_line,
        summary=_summary(incident, alerts),
        fields=tuple(_fields(incident, severity, lang)),
        links=tuple(links),
        buttons=tuple(_buttons(number, status, viewer)),
        timeline=tuple(
            _entry_line(entry, lang) for entry in (incident.get("timeline") or ())[-TIMELINE_MAX:]
        ),
        fallback=f"{emoji} {title} — {status_line}",
    )


def _tone(severity: Severity, status: Status, *, snoozed: bool) -> Tone:
    if status is Status.CLOSED:
        return Tone.SUCCESS
    if snoozed:
        return Tone.NEUTRAL
    return _TONE[severity]


def _status_line(incident: JSONObject, status: Status, lang: str) -> str:
    if status is Status.CLOSED:
        closed_by = incident.get("closed_by")
        head = (
            messages.text("closed", lang, actor=closed_by)
            if closed_by
            else messages.text("card_closed_resolved", lang)
        )
        return _at(head, _time(incident.get("closed_at")) or _time(incident["updated_at"]))
    if status is Status.ACKNOWLEDGED:
        acked_by = incident.get("acked_by")
        line = (
            _at(messages.text("acked", lang, actor=acked_by), _time(incident.get("acked_at")))
            if acked_by
            else messages.text("web_status_acknowledged", lang)
        )
        until = _time(incident.get("snoozed_until"))
        if until is None:
            return line
        # Without the date "until 09:00" could mean today or tomorrow; a snooze spans at most a day.
        updated = _time(incident["updated_at"])
        same_day = updated is not None and until.date() == updated.date()
        shown = f"{until:%H:%M}" if same_day else f"{until:%Y-%m-%d %H:%M}"
        return f"{line} · {messages.text('card_snoozed_until', lang, until=shown)}"
    return messages.text("web_status_triggered", lang)


def _at(sentence: str, moment: datetime | None) -> str:
    return f"{sentence} · {moment:%H:%M}" if moment else sentence


def _summary(incident: JSONObject, alerts: Sequence[JSONObject]) -> str:
    # A service's own template for the card body wins over the description.
    text = str(incident.get("body") or incident.get("description") or "").strip()
    if not text and alerts:
        text = str(alerts[0].get("description") or "").strip()
    return clip(text, SUMMARY_MAX) if text else ""


def _fields(incident: JSONObject, severity: Severity, lang: str) -> Iterator[Field]:
    def field(key: str, value: str) -> Field:
        return Field(messages.text(key, lang), clip(value, VALUE_MAX))

    yield field("web_service", str(incident["service"]))
    yield field("web_severity", messages.text(f"web_severity_{severity.value}", lang))
    yield field("web_alerts", str(incident.get("alert_count", 0)))
    started = _time(incident["created_at"])
    if started is not None:
        yield field("card_started", f"{started:%Y-%m-%d %H:%M} UTC")
        ended = _time(incident.get("closed_at")) or _time(incident["updated_at"]) or started
        yield field("card_duration", _duration(ended - started, lang))
    assignees = incident.get("assignees") or []
    if assignees:
        yield field("web_assignees", ", ".join(str(a) for a in assignees))
    labels: Mapping[str, Any] = incident.get("labels") or {}
    shown = sorted(key for key in labels if key not in SKIPPED_LABELS)[:LABELS_MAX]
    for key in shown:
        yield Field(clip(key, VALUE_MAX), clip(str(labels[key]), VALUE_MAX))


def _duration(span: timedelta, lang: str) -> str:
    minutes = max(int(span.total_seconds()) // 60, 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [("card_days", days), ("card_hours", hours), ("card_minutes", minutes)]
    while len(parts) > 1 and parts[0][1] == 0:
        parts.pop(0)
    # Two units say enough: "2d 3h", "1h 5m", "7m".
    return " ".join(messages.text(key, lang, n=n) for key, n in parts[:2])


def _alert_links(alerts: Sequence[JSONObject], lang: str) -> Iterator[Link]:
    seen: set[str] = set()
    for key, label in _LINK_KEYS:
        for alert in alerts:
            details: Mapping[str, Any] = alert.get("details") or {}
            url = _web_url(details.get(key))
            if key == "source_url" and url is None:
                url = _web_url(alert.get("source_url"))
            if url is not None and url not in seen:
                seen.add(url)
                yield Link(messages.text(label, lang), url)
                if len(seen) == ALERT_LINKS_MAX:
                    return


def _web_url(value: object) -> str | None:
    """``value`` when it is a plain http(s) URL: annotations come from outside, may say anything."""
    if not isinstance(value, str) or not value.isprintable() or any(c in value for c in " |<>"):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and parts.hostname else None


def _buttons(number: int, status: Status, viewer: Viewer) -> Iterator[Button]:
    for verb in DEFAULT_BUTTONS[status]:
        if viewer.buttons is not None and verb not in viewer.buttons:
            continue
        label, style, needs_input = _BUTTONS[verb]
        yield Button(
            verb=verb,
            label=messages.text(label, viewer.lang),
            data=callback.encode(verb, number),
            style=style,
            needs_input=needs_input,
        )


def _entry_line(entry: JSONObject, lang: str) -> str:
    moment = _time(entry.get("at"))
    kind = str(entry.get("kind") or "")
    try:
        kind_text = messages.text(f"card_kind_{kind}", lang)
    except KeyError:
        kind_text = kind.replace("_", " ")
    actor = entry.get("actor")
    line = messages.text(
        "card_entry_by" if actor else "card_entry",
        lang,
        at=f"{moment:%H:%M}" if moment else "--:--",
        actor=actor,
        kind=kind_text,
        source=entry.get("source") or "?",
    )
    return clip(line, ENTRY_MAX)


def _time(value: object) -> datetime | None:
    """An RFC 3339 string from the incident JSON as aware UTC; None when absent."""
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def digest_of(payload: Mapping[str, Any], lang: str) -> DigestCard:
    """The digest card an ``op = "digest"`` delivery's payload describes."""
    items = payload.get("items")
    open_min = payload.get("open_min")
    return build_digest(
        items if isinstance(items, list) else [],
        lang,
        open_min if isinstance(open_min, int) else 0,
    )


def build_digest(items: Sequence[Mapping[str, Any]], lang: str, open_min: int) -> DigestCard:
    """The digest card for ``items`` (number, title, severity, url), oldest first."""
    entries = []
    for item in items:
        try:
            emoji = _EMOJI[Severity(str(item.get("severity")))]
        except ValueError:
            emoji = _EMOJI[Severity.WARNING]
        entries.append(
            DigestEntry(
                incident=int(item.get("number") or 0),
                emoji=emoji,
                title=clip(str(item.get("title") or ""), TITLE_MAX),
                url=_web_url(item.get("url")),
            )
        )
    first = entries[0].incident if entries else 1
    return DigestCard(
        headline=messages.text("card_digest_headline", lang, count=len(entries)),
        entries=tuple(entries),
        hint=messages.text("card_digest_hint", lang, minutes=open_min, number=first),
    )
