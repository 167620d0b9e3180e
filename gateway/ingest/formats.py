"""Parse a decoded webhook body (Alertmanager, Grafana or PagerDuty-style) into an AlertBatch."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime

from gateway.config import IntegrationSettings
from gateway.domain import AlertAction, AlertBatch, AlertEvent, JSONObject, Severity
from gateway.errors import MalformedPayload

MAX_EVENTS = 1000
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
TOP = "(top level)"

_SYNONYM_WORDS = {
    Severity.CRITICAL: "critical crit fatal emergency emerg alert p0 p1 disaster high",
    Severity.WARNING: "warning warn error err p2 p3 average medium major minor",
    Severity.INFO: "info information informational notice debug low ok none p4 p5",
}
SEVERITY_SYNONYMS: dict[str, Severity] = {
    word: severity for severity, words in _SYNONYM_WORDS.items() for word in words.split()
}

_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(?:[Zz]|([+-]\d{2}):?(\d{2}))",
    re.ASCII,
)
_UNSET = datetime(1, 1, 1, tzinfo=UTC)
_STATUSES = {"firing": AlertAction.TRIGGER, "resolved": AlertAction.RESOLVE}
_GENERIC_ACTIONS = {a.value: a for a in AlertAction}
_GRAFANA_EXTRAS = ("values", "valueString", "dashboardURL", "panelURL", "silenceURL", "imageURL")


def parse(fmt: str, body: object, settings: IntegrationSettings) -> AlertBatch:
    """Turn ``body`` (what ``json.loads`` returned) into events; raises MalformedPayload."""
    if fmt in ("alertmanager", "grafana"):
        return _parse_grouped(body, settings, grafana=fmt == "grafana")
    if fmt == "generic":
        return _parse_generic(body, settings)
    raise ValueError(f"unknown alert format {fmt!r}")


# --- Alertmanager webhook v4 and Grafana unified alerting -------------------------------


def _parse_grouped(body: object, settings: IntegrationSettings, *, grafana: bool) -> AlertBatch:
    root = _obj(body, TOP)
    alerts = root.get("alerts")
    if not isinstance(alerts, list):
        raise MalformedPayload(f"must be a list of alerts, got {_kind(alerts)}", "alerts")
    if not alerts:
        raise MalformedPayload("must not be empty", "alerts")
    if len(alerts) > MAX_EVENTS:
        raise MalformedPayload(f"at most {MAX_EVENTS} alerts per request", "alerts")
    fallback_title = _opt_str(root, "title", "") if grafana else None
    group_key = _opt_str(root, "groupKey", "")
    events = tuple(
        _grouped_event(raw, f"alerts[{i}]", settings, grafana, fallback_title)
        for i, raw in enumerate(alerts)
    )
    return AlertBatch(events=events, group_key=group_key)


def _grouped_event(
    raw: object,
    path: str,
    settings: IntegrationSettings,
    grafana: bool,
    fallback_title: str | None,
) -> AlertEvent:
    alert = _obj(raw, path)
    labels = _labels(alert.get("labels"), _at(path, "labels"))
    raw_annotations = alert.get("annotations")
    annotations = {} if raw_annotations is None else _obj(raw_annotations, _at(path, "annotations"))
    status = alert.get("status")
    if not isinstance(status, str) or status not in _STATUSES:
        raise MalformedPayload("must be 'firing' or 'resolved'", _at(path, "status"))
    fingerprint = _opt_str(alert, "fingerprint", path)
    if fingerprint is not None and len(fingerprint) > MAX_DEDUP_KEY:
        raise MalformedPayload(f"at most {MAX_DEDUP_KEY} characters", _at(path, "fingerprint"))
    details: JSONObject = dict(annotations)
    if grafana:
        for key in _GRAFANA_EXTRAS:
            value = alert.get(key)
            if value not in (None, "", {}, []):
                details[key] = value
    title = _text(annotations, "summary") or labels.get("alertname") or fallback_title or "alert"
    return AlertEvent(
        dedup_key=fingerprint or _labels_key(labels),
        action=_STATUSES[status],
        title=title,
        severity=_severity(labels.get(settings.severity_label), settings),
        description=_text(annotations, "description") or _text(annotations, "message") or "",
        labels=labels,
        details=details,
        starts_at=_time(alert, "startsAt", path),
        ends_at=_time(alert, "endsAt", path),
        source=labels.get("instance") or labels.get("job") or None,
        source_url=_opt_str(alert, "generatorURL", path),
    )


def _labels(value: object, path: str) -> dict[str, str]:
    raw = _obj(value, path)
    labels: dict[str, str] = {}
    for key, item in raw.items():
        text = _scalar(item)
        if text is not None:
            labels[str(key)] = text
        elif item is not None:
            raise MalformedPayload(f"must be a string, got {_kind(item)}", _at(path, str(key)))
    return labels


def _labels_key(labels: dict[str, str]) -> str:
    """A stable 16-hex key for senders that omit ``fingerprint``."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]


# --- generic: PagerDuty Events API v2 ----------------------------------------------------


def _parse_generic(body: object, settings: IntegrationSettings) -> AlertBatch:
    if not isinstance(body, list):
        return AlertBatch(events=(_generic_event(body, "", settings),))
    if not body:
        raise MalformedPayload("must not be an empty list", TOP)
    if len(body) > MAX_EVENTS:
        raise MalformedPayload(f"at most {MAX_EVENTS} events per request", TOP)
    return AlertBatch(
        events=tuple(_generic_event(item, f"[{i}]", settings) for i, item in enumerate(body))
    )


def _generic_event(raw: object, path: str, settings: IntegrationSettings) -> AlertEvent:
    event = _obj(raw, path or TOP)
    action_name = event.get("event_action")
    if action_name is None:
        raise MalformedPayload("required", _at(path, "event_action"))
    if not isinstance(action_name, str) or action_name not in _GENERIC_ACTIONS:
        raise MalformedPayload(
            "must be 'trigger', 'acknowledge' or 'resolve'", _at(path, "event_action")
        )
    action = _GENERIC_ACTIONS[action_name]
    trigger = action is AlertAction.TRIGGER
    dedup_key = _opt_str(event, "dedup_key", path)
    if dedup_key is None:
        if not trigger:
            raise MalformedPayload(f"required for {action_name}", _at(path, "dedup_key"))
        dedup_key = uuid.uuid4().hex
    elif len(dedup_key) > MAX_DEDUP_KEY:
        raise MalformedPayload(f"at most {MAX_DEDUP_KEY} characters", _at(path, "dedup_key"))

    ppath = _at(path, "payload")
    raw_payload = event.get("payload")
    payload = {} if raw_payload is None and not trigger else _obj(raw_payload, ppath)
    summary = _opt_str(payload, "summary", ppath)
    source = _opt_str(payload, "source", ppath)
    severity = _opt_str(payload, "severity", ppath)
    if trigger:
        for name, value in (("summary", summary), ("source", source), ("severity", severity)):
            if value is None:
                raise MalformedPayload("required for trigger", _at(ppath, name))
    if summary is not None and len(summary) > MAX_SUMMARY:
        raise MalformedPayload(f"at most {MAX_SUMMARY} characters", _at(ppath, "summary"))

    details: JSONObject = {}
    labels: dict[str, str] = {}
    description = ""
    custom = payload.get("custom_details")
    if isinstance(custom, dict):
        details.update(custom)
        for key, value in custom.items():
            text = _scalar(value)
            if text is not None:
                labels[str(key)] = text
        description = _text(custom, "description") or ""
    elif custom is not None:
        details["custom_details"] = custom
    if source is not None:
        labels["source"] = source
    for name in ("component", "group", "class"):
        value = _opt_str(payload, name, ppath)
        if value is not None:
            details[name] = labels[name] = value

    return AlertEvent(
        dedup_key=dedup_key,
        action=action,
        title=summary or "",
        severity=_severity(severity, settings),
        description=description,
        labels=labels,
        details=details,
        starts_at=_time(payload, "timestamp", ppath),
        source=source,
        source_url=_opt_str(event, "client_url", path) or _first_link(event, path),
    )


def _first_link(event: JSONObject, path: str) -> str | None:
    links = event.get("links")
    if links is None:
        return None
    lpath = _at(path, "links")
    if not isinstance(links, list):
        raise MalformedPayload(f"must be a list, got {_kind(links)}", lpath)
    for i, link in enumerate(links):
        href = _opt_str(_obj(link, f"{lpath}[{i}]"), "href", f"{lpath}[{i}]")
        if href:
            return href
    return None


# --- shared helpers ------------------------------------------------------------------------


def _severity(value: str | None, settings: IntegrationSettings) -> Severity:
    """``severity_map`` first, then the built-in synonyms, else the integration's default."""
    if value is None:
        return settings.default_severity
    key = value.strip().lower()
    overrides = {k.strip().lower(): v for k, v in settings.severity_map.items()}
    if key in overrides:
        return overrides[key]
    return SEVERITY_SYNONYMS.get(key, settings.default_severity)


def _time(obj: JSONObject, key: str, path: str) -> datetime | None:
    """RFC 3339 (nanoseconds cut to µs) → aware UTC; "", null and year-1 sentinel → None."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    where = _at(path, key)
    if not isinstance(value, str):
        raise MalformedPayload(f"must be an RFC 3339 timestamp, got {_kind(value)}", where)
    match = _RFC3339.fullmatch(value.strip())
    if match is None:
        raise MalformedPayload(f"not an RFC 3339 timestamp: {value[:64]!r}", where)
    date, time, frac, off_h, off_m = match.groups()
    offset = f"{off_h}:{off_m}" if off_h else "+00:00"
    micros = (frac or "0")[:6].ljust(6, "0")
    try:
        at = datetime.fromisoformat(f"{date}T{time}.{micros}{offset}").astimezone(UTC)
    except (ValueError, OverflowError):
        raise MalformedPayload(f"not a valid date and time: {value[:64]!r}", where) from None
    return None if at == _UNSET else at


def _obj(value: object, path: str) -> JSONObject:
    if not isinstance(value, dict):
        raise MalformedPayload(f"must be a JSON object, got {_kind(value)}", path)
    return value


def _opt_str(obj: JSONObject, key: str, path: str) -> str | None:
    """A string field: absent, null or "" → None; any other non-string is malformed."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"must be a string, got {_kind(value)}", _at(path, key))
    return value


def _text(obj: JSONObject, key: str) -> str | None:
    """A non-empty string from a free-form object, else None (never raises)."""
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def _scalar(value: object) -> str | None:
    """A JSON scalar as label text; null, lists and objects → None."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
