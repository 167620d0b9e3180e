"""The built-ins of notification templates: the default sources and each channel kind's budget.

Every channel kind uses one of six shapes (``chat`` card body, ``bot`` message, ``sms``,
``voice``, ``email_subject``, ``email_text``); a shape differs per event type only in the
phrase that says what happened (``_what``) and, for bots and voice, in how much it repeats.

The sources follow the engine's settings in ``gateway.templates``: ``trim_blocks`` and
``lstrip_blocks`` are on, so a block tag at the END of a text line would swallow its newline;
lines that end conditionally use ``{{ … if … else '' }}`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SHAPES = ("chat", "bot", "sms", "voice", "email_subject", "email_text")

_CLOCK = "datetime('%H:%M %Z')"
# The people paged, at most five by name: "Alice Chen, Bob Li, … 3 more".
_NAMES = (
    "{{ (assigned_to[:5] + (['… %d more' % (assigned_to|length - 5)] if assigned_to|length > 5 "
    "else []))|join(', ') }}"
)
_BY_ACTOR = "{{ ' by ' ~ actor if actor else '' }}"


def _what(event: str, note_max: int) -> str:
    """What happened, as a lower-case phrase without a final stop; comments cut to ``note_max``."""
    phrases = {
        # ``triggered`` also stands in for kinds without their own type (snoozed, …).
        "triggered": (
            "{% if event_kind == 'triggered' %}triggered {{ started_at|" + _CLOCK + " }}"
            "{% else %}{{ event_kind|replace('_', ' ') }}"
            + _BY_ACTOR
            + " {{ now|"
            + _CLOCK
            + " }}, now {{ status }}{% endif %}"
        ),
        "acknowledged": (
            "acknowledged{{ ' by ' ~ acked_by if acked_by else '' }}"
            "{{ ' ' ~ acked_at|" + _CLOCK + " if acked_at else '' }}"
        ),
        "closed": (
            "{% if closed_by %}closed by {{ closed_by }}{% else %}closed, all alerts resolved"
            "{% endif %}{% if closed_at %} {{ closed_at|" + _CLOCK + " }} after "
            "{{ started_at|duration(closed_at) }}{% endif %}"
        ),
        "reopened": (
            "{% if event_kind == 'snooze_expired' %}snooze ended, still {{ status }}"
            "{% else %}reopened" + _BY_ACTOR + "{% endif %}"
        ),
        "escalated": (
            "{% if event_kind == 'assigned' %}assigned to "
            + (_NAMES + "{{ '' if assigned_to else 'nobody' }}")
            + _BY_ACTOR
            + "{% else %}escalated"
            + _BY_ACTOR
            + " to level {{ escalation_level }}"
            "{{ ': ' if assigned_to else '' }}" + _NAMES + "{% endif %}"
        ),
        "commented": (
            "{% if comments %}{% set note = comments[-1] %}comment by {{ note.actor or 'someone' }}"
            ': "{{ note.text|truncate(' + str(note_max) + ", false, '…', 0) }}\""
            "{% else %}new comment{% endif %}"
        ),
        "reminder": (
            "reminder: {% if status == 'triggered' %}still not acknowledged"
            "{% elif status == 'acknowledged' %}acknowledged"
            "{{ ' by ' ~ acked_by if acked_by else '' }}, still open"
            "{% else %}{{ status }}{% endif %} after {{ started_at|ago }}"
        ),
    }
    return "{% set what %}" + phrases[event] + "{% endset %}\n"


_HEADLINE = "{{ what[:1]|upper }}{{ what[1:] }}\n"
_FACTS = "Severity: {{ severity }} · Service: {{ service }} · Alerts: {{ alert_count }}\n"
_DETAILS = (
    "{% if assigned_to %}\nAssigned to: " + _NAMES + "\n{% endif %}\n"
    "{% if description %}\n{{ description|truncate(500, false, '…', 0) }}\n{% endif %}\n"
    "{% set shown_labels = labels|labels_line(6, skip=['alertname', 'severity']) %}\n"
    "{% if shown_labels %}\nLabels: {{ shown_labels }}\n{% endif %}\n"
    "{% if runbook_url %}\nRunbook: {{ runbook_url }}\n{% endif %}\n"
)
_ICON = (
    "{% if status == 'closed' %}✅{% elif severity == 'critical' %}🔴"
    "{% elif severity == 'warning' %}🟠{% else %}🔵{% endif %}"
)
# Events that page someone: their bot message repeats the whole incident, the others are short.
_PAGING = frozenset({"triggered", "reopened", "escalated", "reminder"})


def _chat(event: str) -> str:
    return _what(event, 300) + _HEADLINE + _FACTS + _DETAILS


def _bot(event: str) -> str:
    head = (
        _ICON + " [{{ severity|upper }}] #{{ number }} {{ title|truncate(150, false, '…', 0) }}\n"
    )
    body = _FACTS + _DETAILS if event in _PAGING else _FACTS
    return _what(event, 300) + head + _HEADLINE + body + "Open: {{ detail_url }}\n"


def _sms(event: str) -> str:
    return _what(event, 100) + (
        "[{{ severity|upper }}] #{{ number }} {{ title|truncate(80, false, '...', 0) }} on "
        "{{ service }} - {{ what }}. "
        "{{ 'Ack' if status == 'triggered' else 'Details' }}: {{ detail_url }}"
    )


_KEYPAD = (
    "{% if status == 'triggered' %}Press 1 to acknowledge, 2 to escalate, 3 to repeat."
    "{% elif status == 'acknowledged' %}Press 2 to escalate, 3 to repeat."
    "{% else %}Press 3 to repeat.{% endif %}"
)
_SPOKEN_TITLE = "{{ title|spoken|truncate(150, false, '', 0) }}"
_INCIDENT = "{{ severity|capitalize }} incident {{ number }} on service {{ service }}"
_PLAIN_INCIDENT = "Incident {{ number }} on service {{ service }}, " + _SPOKEN_TITLE + ","
_VOICE: Mapping[str, str] = {
    "triggered": (
        "{% if event_kind == 'triggered' %}" + _INCIDENT + ": " + _SPOKEN_TITLE + "."
        "{% else %}"
        + _PLAIN_INCIDENT
        + " was {{ event_kind|replace('_', ' ') }}"
        + _BY_ACTOR
        + ". It is now {{ status }}.{% endif %} "
    ),
    "acknowledged": (
        _PLAIN_INCIDENT + " was acknowledged{{ ' by ' ~ acked_by if acked_by else '' }}. "
    ),
    "closed": (
        _PLAIN_INCIDENT + " was closed{{ ' by ' ~ closed_by if closed_by else "
        "', all alerts resolved' }}. "
    ),
    "reopened": (
        _INCIDENT + "{% if event_kind == 'snooze_expired' %} is back from snooze"
        "{% else %} was reopened" + _BY_ACTOR + "{% endif %}: " + _SPOKEN_TITLE + ". "
    ),
    "escalated": (
        _INCIDENT
        + " was {{ 'assigned' if event_kind == 'assigned' else 'escalated' }} to you: "
        + _SPOKEN_TITLE
        + ". "
    ),
    "commented": (
        "{% set note = comments[-1] if comments else none %}"
        "{{ note.actor or 'Someone' if note else 'Someone' }} commented on incident "
        "{{ number }}, "
        + _SPOKEN_TITLE
        + "{{ ': ' ~ note.text.rstrip('. ')|truncate(200, false, '', 0) "
        "if note else '' }}. "
    ),
    "reminder": (
        "Reminder: " + _INCIDENT + " is still {{ 'not acknowledged' if status == 'triggered' "
        "else 'open' }} after {{ started_at|ago(words=true) }}: " + _SPOKEN_TITLE + ". "
    ),
}


def _voice(event: str) -> str:
    return _VOICE[event] + _KEYPAD


def _email_subject(event: str) -> str:
    suffix = (
        "{% if event_kind != 'triggered' %} — {{ what }}{% endif %}"
        if event == "triggered"
        else " — {{ what }}"
    )
    return (
        _what(event, 80)
        # P1/P2/P3 as pagers and mail filters know them, from the severity.
        + "[{{ {'critical': 'P1', 'warning': 'P2'}.get(severity, 'P3') }}][#{{ number }}] "
        + "{{ title|truncate(150, false, '…', 0) }}"
        + suffix
    )


_EMAIL_BODY = """\
Incident: #{{ number }} {{ title }}
Severity: {{ severity }}
Status: {{ status }}
Service: {{ service }}
Started: {{ started_at|datetime }}{{ ' (' ~ started_at|ago ~ ' ago)' if started_at else '' }}
{% if acked_at or acked_by %}
Acknowledged: {{ acked_at|datetime }}{{ ' by ' ~ acked_by if acked_by else '' }}
{% endif %}
{% if closed_at or closed_by %}
Closed: {{ closed_at|datetime }}{{ ' by ' ~ closed_by if closed_by else '' }}
{% endif %}
{% if assigned_to %}
Assigned to: {{ assigned_to|join(', ') }} (escalation level {{ escalation_level }})
{% endif %}
{% if labels %}
Labels: {{ labels|labels_line(30) }}
{% endif %}
{% if description %}

{{ description|truncate(20000, false, '…', 0) }}
{% endif %}
{% if alerts %}

Alerts ({{ alert_count }}):
{% for alert in alerts[:10] %}
- [{{ alert.status }}] {{ alert.title }} ({{ alert.severity }}){{ ', since ' ~ \
alert.starts_at|datetime if alert.starts_at else '' }}
{% if alert.description %}
  {{ alert.description|truncate(1000, false, '…', 0) }}
{% endif %}
{% set own_labels = alert.labels|labels_line(10, skip=labels) %}
{% if own_labels %}
  {{ own_labels }}
{% endif %}
{% if alert.source_url %}
  {{ alert.source_url }}
{% endif %}
{% endfor %}
{% if alert_count > 10 %}
… {{ alert_count - 10 }} more alerts
{% endif %}
{% endif %}
{% if comments %}

Comments:
{% for note in comments[-10:] %}
- {{ note.at|datetime }} {{ note.actor or 'someone' }}: \
{{ note.text|truncate(2000, false, '…', 0) }}
{% endfor %}
{% endif %}
{% if runbook_url %}

Runbook: {{ runbook_url }}
{% endif %}

Open the incident: {{ detail_url }}
"""


def _email_text(event: str) -> str:
    return _what(event, 2000) + _HEADLINE + "\n" + _EMAIL_BODY


_BUILDERS = {
    "chat": _chat,
    "bot": _bot,
    "sms": _sms,
    "voice": _voice,
    "email_subject": _email_subject,
    "email_text": _email_text,
}


def default_source(shape: str, event: str) -> str:
    """The built-in Jinja source of ``shape`` (one of SHAPES) for event type ``event``."""
    return _BUILDERS[shape](event)


# --- budgets -------------------------------------------------------------------------------

ELLIPSIS = "…"
GSM_SINGLE_SEPTETS = 160
GSM_SEGMENT_SEPTETS = 153  # 7 septets of each segment go to the concatenation header
UCS2_SINGLE_UNITS = 70
UCS2_SEGMENT_UNITS = 67
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("^{}\\[~]|€\f")  # two septets each
# Typographic punctuation that would switch an SMS to UCS-2 (70 characters a segment, not 160).
_GSM_FOLD = str.maketrans(
    {"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "·": "-", "\xa0": " "}
)
_BOUNDARY_WINDOW_CHARS = 40  # how far back a cut looks for a line break or space


@dataclass(frozen=True, slots=True)
class Budget:
    """How much text a channel kind takes; None means no limit of that kind.

    Attributes:
        max_chars: Characters (code points).
        max_bytes: UTF-8 bytes.
        max_lines: Lines.
        sms_segments: Concatenated SMS segments: GSM-7, or UCS-2 when any character is not
            GSM-7 (typographic dashes and quotes are folded to ASCII first).
        single_line: Line breaks and runs of whitespace become one space.
    """

    max_chars: int | None = None
    max_bytes: int | None = None
    max_lines: int | None = None
    sms_segments: int | None = None
    single_line: bool = False


SMS_BUDGET = Budget(sms_segments=3)  # 459 GSM-7 characters or 201 UCS-2 units
VOICE_BUDGET = Budget(max_chars=600)
SLACK_BUDGET = Budget(max_chars=3_000)  # one section block
TEAMS_BUDGET = Budget(max_bytes=20_000)
LARK_BUDGET = Budget(max_bytes=4_000)
DINGTALK_BUDGET = Budget(max_bytes=4_000)  # the API takes ~20,000; kept conservative
WECOM_CARD_BUDGET = Budget(max_lines=8)
WECOM_BOT_BUDGET = Budget(max_bytes=4_096)
TELEGRAM_BUDGET = Budget(max_chars=4_096)
ZOOM_BUDGET = Budget(max_chars=4_000)
EMAIL_SUBJECT_BUDGET = Budget(max_chars=200, single_line=True)
EMAIL_TEXT_BUDGET = Budget(max_chars=100_000)

BUDGETS: Mapping[str, Budget] = {
    "slack": SLACK_BUDGET,
    "teams": TEAMS_BUDGET,
    "lark": LARK_BUDGET,
    "dingtalk": DINGTALK_BUDGET,
    "wecom": WECOM_CARD_BUDGET,
    "telegram": TELEGRAM_BUDGET,
    "zoom": ZOOM_BUDGET,
    "lark_bot": LARK_BUDGET,
    "dingtalk_bot": DINGTALK_BUDGET,
    "wecom_bot": WECOM_BOT_BUDGET,
    "slack_bot": SLACK_BUDGET,
    "telegram_bot": TELEGRAM_BUDGET,
    "zoom_bot": ZOOM_BUDGET,
    "sms": SMS_BUDGET,
    "voice": VOICE_BUDGET,
    "email_subject": EMAIL_SUBJECT_BUDGET,
    "email_text": EMAIL_TEXT_BUDGET,
}


def is_gsm(text: str) -> bool:
    """Whether ``text`` fits the GSM-7 alphabet (with its extension table)."""
    return all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text)


def sms_segments(text: str) -> int:
    """How many concatenated SMS segments ``text`` takes; a character never spans two."""
    if is_gsm(text):
        costs = [2 if c in _GSM_EXTENDED else 1 for c in text]
        single, segment = GSM_SINGLE_SEPTETS, GSM_SEGMENT_SEPTETS
    else:
        costs = [2 if ord(c) > 0xFFFF else 1 for c in text]  # UTF-16 code units
        single, segment = UCS2_SINGLE_UNITS, UCS2_SEGMENT_UNITS
    if sum(costs) <= single:
        return 1
    count, used = 1, 0
    for cost in costs:
        if used + cost > segment:
            count, used = count + 1, 0
        used += cost
    return count


def fits(text: str, budget: Budget) -> bool:
    """Whether ``text`` is within ``budget`` (lines and single-line are shaped, not checked)."""
    return not (
        (budget.max_chars is not None and len(text) > budget.max_chars)
        or (budget.max_bytes is not None and len(text.encode()) > budget.max_bytes)
        or (budget.sms_segments is not None and sms_segments(text) > budget.sms_segments)
    )


def fit(text: str, budget: Budget) -> tuple[str, bool]:
    """``text`` within ``budget``, and whether anything was cut.

    Cuts fall on a line break or a space near the limit when there is one, else between two
    characters, and end with "…" ("..." in a GSM-7 SMS). A trailing link (``Open: https://…``)
    is kept whole: the text before it is cut instead.
    """
    if budget.sms_segments is not None:
        text = text.translate(_GSM_FOLD)
    if budget.single_line:
        text = " ".join(text.split())
    cut = False
    lines = text.splitlines()
    if budget.max_lines is not None and len(lines) > budget.max_lines:
        kept = lines[: budget.max_lines]
        kept[-1] = kept[-1].rstrip() + ELLIPSIS
        text, cut = "\n".join(kept), True
    if fits(text, budget):
        return text, cut
    marker = "..." if budget.sms_segments is not None and is_gsm(text) else ELLIPSIS
    head, tail = _split_link(text)
    if not fits(marker + tail, budget):
        head, tail = text, ""
    return _cut(head, marker + tail, budget), True


def _split_link(text: str) -> tuple[str, str]:
    """``text`` before its trailing link, and the link with its separator and short label."""
    start = max(text.rfind(" "), text.rfind("\n")) + 1
    if not text.startswith(("http://", "https://"), start) or start == 0:
        return text, ""
    label = max(text.rfind(" ", 0, start - 1), text.rfind("\n", 0, start - 1)) + 1
    word = text[label : start - 1]
    if label > 0 and word.endswith(":") and "\n" not in word and len(word) <= 12:
        start = label
    return text[: start - 1], text[start - 1 :]


def _cut(head: str, end: str, budget: Budget) -> str:
    """The longest ``head`` prefix that fits with ``end`` after it, ending on a boundary."""
    low, high = 0, len(head)
    while low < high:  # the largest fitting prefix length
        mid = (low + high + 1) // 2
        if fits(head[:mid].rstrip() + end, budget):
            low = mid
        else:
            high = mid - 1
    if low == len(head):
        return head.rstrip() + end
    floor = low - _BOUNDARY_WINDOW_CHARS
    for breaker in ("\n", " "):
        at = head.rfind(breaker, max(floor, 1), low + 1)
        if at > 0:
            return head[:at].rstrip() + end
    return head[:low].rstrip() + end
