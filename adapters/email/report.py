"""Renders an email delivery's payload as the incident report: subject, plain-text and HTML
parts, and the ids that thread every mail about one incident together."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from cards.build import SKIPPED_LABELS
from cards.model import clip
from gateway import messages

# RFC 2606 reserves .invalid: ids made without a known domain can never clash with a real one.
DEFAULT_DOMAIN = "ackgate.invalid"
SUBJECT_MAX = 200
TITLE_MAX = 300
SUMMARY_MAX = 10_000
DESCRIPTION_MAX = 1_000
VALUE_MAX = 200
LABELS_MAX = 20
ALERTS_MAX = 5
TIMELINE_MAX = 5
NOTE_MAX = 300
PREHEADER_MAX = 150

_PRIORITY = {"critical": "P1", "warning": "P2", "info": "P3"}
# The bar along the top of the HTML part: the severity's colour, green once closed.
_BAR = {"critical": "#d92d20", "warning": "#f79009", "info": "#1f5fbf"}
_CLOSED_BAR = "#1e6b35"
_NEUTRAL_BAR = "#5b6470"
# Badge (background, text) colours, the same as the incident page's.
_BADGE = {
    "triggered": ("#fde8e6", "#b42318"),
    "acknowledged": ("#fff1cc", "#8a5a00"),
    "closed": ("#e2f4e7", "#1e6b35"),
    "firing": ("#fde8e6", "#b42318"),
    "resolved": ("#e2f4e7", "#1e6b35"),
}
_GREY_BADGE = ("#eceef1", "#5b6470")
# alert ``details`` key → message key of the link's label, in the order links are shown
_ALERT_LINKS = (
    ("runbook_url", "card_link_runbook"),
    ("dashboardURL", "card_link_dashboard"),
    ("dashboard_url", "card_link_dashboard"),
    ("panelURL", "card_link_panel"),
    ("source_url", "card_link_source"),
)
# What may stand in the local part and the domain of a Message-ID (RFC 5322 dot-atom).
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_DOMAIN_UNSAFE = re.compile(r"[^a-z0-9.-]+")

JSON = Mapping[str, object]


@dataclass(frozen=True, slots=True)
class EmailParts:
    """One rendered mail: subject, both bodies, and its threading ids (each ``<…>``)."""

    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str
    references: str


@dataclass(frozen=True, slots=True)
class _Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class _Button:
    label: str
    url: str
    background: str
    color: str
    border: str


@dataclass(frozen=True, slots=True)
class _Row:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class _Alert:
    title: str
    status: str
    badge: tuple[str, str]
    description: str
    links: tuple[_Link, ...]


@dataclass(frozen=True, slots=True)
class _Entry:
    at: str
    what: str
    via: str
    note: str


@dataclass(frozen=True, slots=True)
class _Report:
    """Everything the two parts show, already worded, cleaned and clipped."""

    lang: str
    subject: str
    heading: str  # "#42 Title"
    priority: str
    severity: str
    bar: str
    status: str
    status_badge: tuple[str, str]
    status_line: str
    test: bool
    summary: str
    fields: tuple[_Row, ...]
    labels: tuple[str, ...]
    alerts: tuple[_Alert, ...]
    alerts_heading: str
    timeline: tuple[_Entry, ...]
    buttons: tuple[_Button, ...]
    open_link: _Link | None
    preheader: str

    def say(self, key: str, **values: object) -> str:
        """The sentence ``key`` in the report's language."""
        return messages.text(key, self.lang, **values)


def render(
    payload: JSON, lang: str = "en", *, domain: str = DEFAULT_DOMAIN, recipient: str = ""
) -> EmailParts:
    """The mail for one email delivery's ``payload`` to ``recipient``, ids under ``domain``.

    Pure: the same payload and recipient always give the same mail.
    """
    report = _report(payload, lang)
    domain = _id_domain(domain)
    root = thread_id(payload, domain)
    return EmailParts(
        subject=report.subject,
        text=_text(report),
        html=_ENV.get_template("report.html").render(r=report),
        message_id=_message_id(payload, domain, recipient),
        in_reply_to=root,
        references=root,
    )


# --- threading ----------------------------------------------------------------------------
#
# Every mail about incident 42 answers one root id that is itself never sent,
# ``<incident-42.<created at, YYYYMMDDHHMMSS>@DOMAIN>``, in both ``In-Reply-To`` and
# ``References``: clients that thread by references group the mails even when the first one
# was lost or deleted. The creation time keeps a recreated database's incident 42, or another
# gateway sending from the same domain, out of the thread.
#
# A mail's own ``Message-ID`` is ``<incident-42.<event_id>.<recipient tag>@DOMAIN>``: unique
# per event and recipient (each gets a link that acts as them), and the same on every retry
# of one delivery, so a mail sent twice because the server's answer was lost reads as one.


def thread_id(payload: JSON, domain: str = DEFAULT_DOMAIN) -> str:
    """The root id every mail about the payload's incident answers (never a mail's own id)."""
    incident = _mapping(payload.get("incident"))
    base = _thread(payload, incident)
    created = _time(incident.get("created_at"))
    stamp = f".{created:%Y%m%d%H%M%S}" if created else ""
    return f"<{base}{stamp}@{_id_domain(domain)}>"


def domain_of(address: str) -> str:
    """The domain of an email address, as Message-IDs use it (``DEFAULT_DOMAIN`` if none)."""
    return _id_domain(address.rpartition("@")[2].strip().rstrip(">"))


def _message_id(payload: JSON, domain: str, recipient: str) -> str:
    incident = _mapping(payload.get("incident"))
    event = _ID_UNSAFE.sub("", str(payload.get("event_id") or ""))[:64]
    if not event:
        # No event id: a digest of the payload is as stable across retries, and as unique.
        canonical = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=False)
        event = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    parts = [_thread(payload, incident), event]
    if recipient:
        parts.append(hashlib.sha256(recipient.strip().lower().encode()).hexdigest()[:10])
    return f"<{'.'.join(parts)}@{domain}>"


def _thread(payload: JSON, incident: JSON) -> str:
    thread = _ID_UNSAFE.sub("", str(payload.get("thread") or ""))[:64]
    return thread or f"incident-{_number(payload, incident)}"


def _id_domain(domain: str) -> str:
    try:
        ascii_domain = domain.strip().lower().encode("idna").decode("ascii")
    except UnicodeError:
        return DEFAULT_DOMAIN
    return _DOMAIN_UNSAFE.sub("", ascii_domain).strip(".-") or DEFAULT_DOMAIN


# --- the report: what both parts say ------------------------------------------------------


def _report(payload: JSON, lang: str) -> _Report:
    incident = _mapping(payload.get("incident"))
    number = _number(payload, incident)
    title = clip(_line(payload.get("title") or incident.get("title")), TITLE_MAX)
    severity = _line(payload.get("severity") or incident.get("severity")).lower()
    status = _line(payload.get("status") or incident.get("status")).lower()
    test = bool(payload.get("test"))
    priority = _PRIORITY.get(severity, "")
    alerts = _mappings(incident.get("alerts"))[:ALERTS_MAX]
    status_line = _status_line(incident, status, lang)
    summary = clip(
        _block(payload.get("body_text"))
        or _block(incident.get("description"))
        or (_block(alerts[0].get("description")) if alerts else ""),
        SUMMARY_MAX,
    )
    count = _int(incident.get("alert_count")) or len(alerts)
    alerts_heading = messages.text("web_alerts", lang)
    if count > len(alerts):
        shown = messages.text("email_alerts_shown", lang, shown=len(alerts), count=count)
        alerts_heading = f"{alerts_heading} ({shown})"
    buttons, open_link = _actions(payload.get("url"), status, lang)
    first_line = summary.split("\n", 1)[0]
    return _Report(
        lang=lang,
        subject=_subject(payload, number, title, priority, status, test=test, lang=lang),
        heading=f"#{number} {title}".strip(),
        priority=priority,
        severity=_say_or(f"web_severity_{severity}", lang, severity),
        bar=_CLOSED_BAR if status == "closed" else _BAR.get(severity, _NEUTRAL_BAR),
        status=_say_or(f"web_status_{status}", lang, status),
        status_badge=_BADGE.get(status, _GREY_BADGE),
        status_line=status_line,
        test=test,
        summary=summary,
        fields=tuple(_fields(incident, severity, priority, count, lang)),
        labels=_labels(incident.get("labels")),
        alerts=tuple(_alert(alert, lang) for alert in alerts),
        alerts_heading=alerts_heading,
        timeline=tuple(
            _entry(entry, lang)
            for entry in reversed(_mappings(incident.get("timeline"))[-TIMELINE_MAX:])
        ),
        buttons=buttons,
        open_link=open_link,
        preheader=clip(" · ".join(p for p in (status_line, first_line) if p), PREHEADER_MAX),
    )


def _subject(
    payload: JSON, number: int, title: str, priority: str, status: str, *, test: bool, lang: str
) -> str:
    """The service's templated subject if it has one, else ``[P1][#42] Title``.

    ``[Closed]`` marks only our own subject (a template words each event itself); ``[TEST]``
    marks both, so a test can never be taken for a real page.
    """
    subject = _line(payload.get("subject"))
    if not subject:
        tags = [messages.text("email_subject_closed", lang)] if status == "closed" else []
        tags += [f"[{priority}]"] if priority else []
        subject = f"{''.join(tags)}[#{number}] {title}"
    if test:
        tag = messages.text("email_subject_test", lang)
        subject = f"{tag}{subject}" if subject.startswith("[") else f"{tag} {subject}"
    return clip(subject, SUBJECT_MAX)


def _status_line(incident: JSON, status: str, lang: str) -> str:
    if status == "closed":
        by = _line(incident.get("closed_by"))
        head = (
            messages.text("closed", lang, actor=by)
            if by
            else messages.text("card_closed_resolved", lang)
        )
        return _at(head, incident.get("closed_at"))
    if status == "acknowledged":
        by = _line(incident.get("acked_by"))
        line = (
            _at(messages.text("acked", lang, actor=by), incident.get("acked_at"))
            if by
            else messages.text("web_status_acknowledged", lang)
        )
        until = _when(incident.get("snoozed_until"))
        if until:
            line += " · " + messages.text("card_snoozed_until", lang, until=until)
        return line
    return _say_or(f"web_status_{status}", lang, status)


def _at(sentence: str, moment: object) -> str:
    when = _when(moment)
    return f"{sentence} · {when}" if when else sentence


def _fields(
    incident: JSON, severity: str, priority: str, alert_count: int, lang: str
) -> Iterator[_Row]:
    def row(key: str, value: str) -> _Row:
        return _Row(messages.text(key, lang), clip(value, VALUE_MAX))

    service = _line(incident.get("service"))
    if service:
        yield row("web_service", service)
    if severity:
        label = _say_or(f"web_severity_{severity}", lang, severity)
        yield row("web_severity", f"{label} ({priority})" if priority else label)
    started = _when(incident.get("created_at"))
    if started:
        yield row("card_started", started)
    yield row("web_alerts", str(alert_count))
    assignees = incident.get("assignees")
    if isinstance(assignees, list) and assignees:
        yield row("web_assignees", ", ".join(_line(a) for a in assignees))


def _labels(value: object) -> tuple[str, ...]:
    labels = _mapping(value)
    keys = sorted(k for k in labels if k not in SKIPPED_LABELS)[:LABELS_MAX]
    return tuple(clip(f"{_line(k)}={_line(labels[k])}", VALUE_MAX) for k in keys)


def _alert(alert: JSON, lang: str) -> _Alert:
    status = _line(alert.get("status")).lower()
    details = _mapping(alert.get("details"))
    links: list[_Link] = []
    for key, label in _ALERT_LINKS:
        url = _web_url(details.get(key))
        if key == "source_url" and url is None:
            url = _web_url(alert.get("source_url"))
        if url is not None and all(link.url != url for link in links):
            links.append(_Link(messages.text(label, lang), url))
    return _Alert(
        title=clip(_line(alert.get("title")), TITLE_MAX),
        status=_say_or(f"web_alert_{status}", lang, status),
        badge=_BADGE.get(status, _GREY_BADGE),
        description=clip(_block(alert.get("description")), DESCRIPTION_MAX),
        links=tuple(links),
    )


def _entry(entry: JSON, lang: str) -> _Entry:
    kind = _line(entry.get("kind"))
    what = _say_or(f"web_kind_{kind}", lang, kind.replace("_", " "))
    actor = _line(entry.get("actor"))
    source = _line(entry.get("source"))
    data = _mapping(entry.get("data"))
    text, assignees = data.get("text"), data.get("assignees")
    note = ""
    if isinstance(text, str):
        note = _line(text)
    elif isinstance(assignees, list) and assignees:
        note = "→ " + ", ".join(_line(a) for a in assignees)
    return _Entry(
        at=_when(entry.get("at")) or "–",
        what=f"{what} · {actor}" if actor else what,
        via=messages.text("web_via", lang, source=source) if source else "",
        note=clip(note, NOTE_MAX) if note else "",
    )


def _actions(value: object, status: str, lang: str) -> tuple[tuple[_Button, ...], _Link | None]:
    """The buttons a status allows (as the incident page does) and the plain "open" link.

    The page URL is signed for the member; the anchor only says which button they came for.
    """
    url = _web_url(value)
    if url is None:
        return (), None
    page = url.split("#", 1)[0]
    buttons: list[_Button] = []
    if status == "triggered":
        label = messages.text("web_button_ack", lang)
        buttons.append(_Button(label, f"{page}#ack", "#1f5fbf", "#ffffff", "#1f5fbf"))
    if status != "closed":
        label = messages.text("web_button_close", lang)
        buttons.append(_Button(label, f"{page}#close", "#ffffff", "#b42318", "#f2b8b0"))
    return tuple(buttons), _Link(messages.text("card_link_open", lang), url)


# --- the plain-text part ------------------------------------------------------------------


def _text(r: _Report) -> str:
    def field(label: str, value: str) -> str:
        return r.say("email_field", label=label, value=value)

    blocks: list[list[str]] = []
    if r.test:
        blocks.append([r.say("email_test_notice")])
    blocks.append([r.heading, field(r.say("web_status"), r.status_line)])
    if r.summary:
        blocks.append(r.summary.split("\n"))
    blocks.append([field(row.label, row.value) for row in r.fields])
    if r.labels:
        blocks.append([field(r.say("email_labels"), ", ".join(r.labels))])
    if r.alerts:
        lines = [r.alerts_heading]
        for alert in r.alerts:
            lines.append(
                f"- {alert.title} [{alert.status}]" if alert.status else f"- {alert.title}"
            )
            # Indented, so an alert's text can never pass for one of our own lines.
            lines += [f"  {line}" if line else "" for line in alert.description.split("\n")]
            lines += [f"  {field(link.label, link.url)}" for link in alert.links]
        blocks.append([line for line in lines if line])
    if r.timeline:
        lines = [r.say("web_timeline")]
        for entry in r.timeline:
            lines.append(" · ".join(p for p in (f"- {entry.at}", entry.what, entry.via) if p))
            if entry.note:
                lines.append(f"  {entry.note}")
        blocks.append(lines)
    links = [field(button.label, button.url) for button in r.buttons]
    if r.open_link is not None:
        links.append(field(r.say("email_open"), r.open_link.url))
    if links:
        blocks.append(links)
    blocks.append(["-- ", r.say("email_footer")])
    return "\n\n".join("\n".join(block) for block in blocks if block) + "\n"


# --- the HTML part ------------------------------------------------------------------------


def _html_lines(text: str) -> Markup:
    """Escaped text whose line breaks survive: ``<br>`` works where CSS ``pre-wrap`` does not."""
    return escape(text).replace("\n", Markup("<br>\n"))


_ENV = Environment(
    loader=PackageLoader("adapters.email", "templates"),
    autoescape=True,  # every title, label and description comes from outside
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["lines"] = _html_lines


# --- reading the JSON ---------------------------------------------------------------------


def _mapping(value: object) -> JSON:
    return value if isinstance(value, dict) else {}


def _mappings(value: object) -> Sequence[JSON]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _number(payload: JSON, incident: JSON) -> int:
    return _int(payload.get("number")) or _int(incident.get("number"))


def _int(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _say_or(key: str, lang: str, fallback: str) -> str:
    try:
        return messages.text(key, lang)
    except KeyError:
        return fallback


def _line(value: object) -> str:
    """One clean line: a title's line breaks or control characters could forge lines of ours."""
    if value is None:
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return " ".join(text.split())


def _block(value: object) -> str:
    """Clean multi-line text: every line cleaned, runs of blank lines squeezed to one."""
    if value is None:
        return ""
    lines = [_line(line) for line in str(value).splitlines()]
    squeezed: list[str] = []
    for line in lines:
        if line or (squeezed and squeezed[-1]):
            squeezed.append(line)
    return "\n".join(squeezed).strip()


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _when(value: object) -> str:
    moment = _time(value)
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


def _web_url(value: object) -> str | None:
    """``value`` when it is a plain http(s) URL: a ``javascript:`` link must never be clickable."""
    if not isinstance(value, str) or not value.isprintable() or " " in value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.hostname else None
