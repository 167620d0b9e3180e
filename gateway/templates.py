"""Notification text from sandboxed Jinja templates, per channel kind and event type, cut to size.

A service may override any (channel kind, event type) in its ``templates`` config section;
everything else uses the built-ins in ``gateway.template_defaults``. Templates run in Jinja's
``ImmutableSandboxedEnvironment``: no access to Python internals, no mutating the variables,
``range()`` limited to ``RANGE_ITEMS_MAX`` items per render, ``*``/``**`` refused when the
result would be huge, output capped at ``OUTPUT_MAX_CHARS``. The sandbox guards against
mistakes and nosy templates, not a CPU or memory jail (templates come from the operator's config:
``'%0999999999d' % 1`` or ``'x'|center(10**9)`` still allocate what they ask for).

Autoescape is off: every channel here takes text. Card renderers escape the body text for
their platform (Slack mrkdwn, Lark/DingTalk/WeCom markdown, Telegram HTML) when they place it.
``trim_blocks`` and ``lstrip_blocks`` are on; None prints as an empty string; a missing
variable, key or attribute tests false in ``{% if %}`` but fails when printed, iterated or
computed with, and a service template that fails falls back to the built-in default.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, safe_range
from pydantic import Field, model_validator

from gateway.strict import Strict
from gateway.template_defaults import BUDGETS, SHAPES, Budget, default_source, fit, sms_segments
from gateway.template_vars import (
    EVENT_ALIASES,
    EVENT_TYPES,
    FILTER_FUNCTIONS,
    FILTERS,
    VARIABLES,
    event_type,
    sample_incident,
    variables,
)

__all__ = [
    "BUDGETS",
    "CHANNEL_KINDS",
    "CHANNEL_SHAPES",
    "DEFAULT_EVENT",
    "DEFAULT_SOURCES",
    "EVENT_ALIASES",
    "EVENT_TYPES",
    "FILTERS",
    "SHAPES",
    "VARIABLES",
    "Budget",
    "Rendered",
    "TemplateSettings",
    "compile_template",
    "event_type",
    "render",
    "sample_incident",
    "sms_segments",
    "variables",
]

DEFAULT_EVENT = "default"  # the config key for "every event without its own template"

# channel kind → the default shape it uses (see gateway.template_defaults)
CHANNEL_SHAPES: Mapping[str, str] = {
    **dict.fromkeys(("slack", "teams", "lark", "dingtalk", "wecom", "telegram", "zoom"), "chat"),
    **dict.fromkeys(
        ("lark_bot", "dingtalk_bot", "wecom_bot", "slack_bot", "telegram_bot", "zoom_bot"), "bot"
    ),
    **{kind: kind for kind in ("sms", "voice", "email_subject", "email_text")},
}
CHANNEL_KINDS = tuple(CHANNEL_SHAPES)

OUTPUT_MAX_CHARS = 131_072  # above the largest budget (email_text), so only runaways hit it
RANGE_ITEMS_MAX = 10_000  # all range() calls of one render together
POWER_MAX_BITS = 4_096
ERROR_MAX_CHARS = 300


# --- the sandbox ---------------------------------------------------------------------------


class _Undefined(StrictUndefined):
    """Strict, except that a missing value tests false, so ``{% if labels.env %}`` works."""

    __slots__ = ()

    def __bool__(self) -> bool:  # type: ignore[override]  # the parent's raises
        return False


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, also refusing ``*`` and ``**`` whose result would be huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Context, operator: str, left: object, right: object) -> object:
        """``left operator right``, unless it would build something enormous."""
        if operator == "*" and _repetition_size(left, right) > OUTPUT_MAX_CHARS:
            raise SecurityError(f"a repetition over {OUTPUT_MAX_CHARS} items")
        if operator == "**" and _power_bits(left, right) > POWER_MAX_BITS:
            raise SecurityError(f"a power over {POWER_MAX_BITS} bits")
        return super().call_binop(context, operator, left, right)


def _repetition_size(left: object, right: object) -> int:
    """How many items ``left * right`` makes when it repeats a string or list, else 0."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            return len(seq) * times
    return 0


def _power_bits(left: object, right: object) -> int:
    """About how many bits ``left ** right`` takes for integers, else 0."""
    if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
        return right * abs(left).bit_length()
    return 0


_ENV = _Sandbox(
    autoescape=False,
    undefined=_Undefined,
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=lambda value: "" if value is None else value,
)
_ENV.filters.update(FILTER_FUNCTIONS)


@functools.lru_cache(maxsize=1024)
def compile_template(source: str) -> Template:
    """``source`` compiled once; raises TemplateSyntaxError."""
    return _ENV.from_string(source)


def _run(source: str, values: Mapping[str, object]) -> tuple[str, bool]:
    """The text ``source`` renders, and whether it was cut at OUTPUT_MAX_CHARS."""
    left = RANGE_ITEMS_MAX

    def budgeted_range(*args: int) -> range:
        nonlocal left
        items = safe_range(*args)
        left -= len(items)
        if left < 0:
            raise OverflowError(f"range() over {RANGE_ITEMS_MAX} items in all")
        return items

    parts: list[str] = []
    size = 0
    for chunk in compile_template(source).generate({**values, "range": budgeted_range}):
        parts.append(chunk)
        size += len(chunk)
        if size > OUTPUT_MAX_CHARS:
            return "".join(parts)[:OUTPUT_MAX_CHARS], True
    return "".join(parts), False


# --- config and rendering ------------------------------------------------------------------


class TemplateSettings(Strict):
    """A service's own templates: channel kind → event type (or ``default``) → Jinja source.

    ``default`` serves every event type of that channel kind without its own template; what
    is not set at all uses the built-in default.
    """

    slack: dict[str, str] = Field(default_factory=dict)
    teams: dict[str, str] = Field(default_factory=dict)
    lark: dict[str, str] = Field(default_factory=dict)
    dingtalk: dict[str, str] = Field(default_factory=dict)
    wecom: dict[str, str] = Field(default_factory=dict)
    telegram: dict[str, str] = Field(default_factory=dict)
    zoom: dict[str, str] = Field(default_factory=dict)
    lark_bot: dict[str, str] = Field(default_factory=dict)
    dingtalk_bot: dict[str, str] = Field(default_factory=dict)
    wecom_bot: dict[str, str] = Field(default_factory=dict)
    slack_bot: dict[str, str] = Field(default_factory=dict)
    telegram_bot: dict[str, str] = Field(default_factory=dict)
    zoom_bot: dict[str, str] = Field(default_factory=dict)
    sms: dict[str, str] = Field(default_factory=dict)
    voice: dict[str, str] = Field(default_factory=dict)
    email_subject: dict[str, str] = Field(default_factory=dict)
    email_text: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _known_channels(cls, data: object) -> object:
        if isinstance(data, Mapping):
            for key in data:
                if key not in CHANNEL_SHAPES:
                    known = ", ".join(CHANNEL_KINDS)
                    raise ValueError(f"unknown channel kind {key!r} in templates; known: {known}")
        return data

    @model_validator(mode="after")
    def _compiles(self) -> TemplateSettings:
        for channel in CHANNEL_KINDS:
            for event, source in self.for_channel(channel).items():
                if event != DEFAULT_EVENT and event not in EVENT_TYPES:
                    known = ", ".join((*EVENT_TYPES, DEFAULT_EVENT))
                    raise ValueError(
                        f"unknown event type {event!r} in templates.{channel}; known: {known}"
                    )
                try:
                    compile_template(source)
                except TemplateSyntaxError as exc:
                    raise ValueError(
                        f"templates.{channel}.{event}: line {exc.lineno}: {exc.message}"
                    ) from None
        return self

    def for_channel(self, channel: str) -> Mapping[str, str]:
        """The templates set for ``channel`` (event type or ``default`` → source)."""
        sources: dict[str, str] = getattr(self, channel)
        return sources

    def source(self, channel: str, event: str) -> str | None:
        """The service's source for ``channel``/``event``: its own, else ``default``, else None."""
        sources = self.for_channel(channel)
        return sources.get(event, sources.get(DEFAULT_EVENT))


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered notification.

    Attributes:
        text: The text, within the channel kind's budget.
        truncated: Some of it was cut to fit.
        error: Why the service's template was not used (one line), for the incident timeline.
    """

    text: str
    truncated: bool
    error: str | None = None


DEFAULT_SOURCES: Mapping[tuple[str, str], str] = {
    (channel, event): default_source(shape, event)
    for channel, shape in CHANNEL_SHAPES.items()
    for event in EVENT_TYPES
}


def render(
    templates: TemplateSettings | None,
    channel: str,
    event: str,
    vars: Mapping[str, object],  # noqa: A002 - the name the callers use
) -> Rendered:
    """The text for ``event`` (a timeline kind or event type) on ``channel``, from ``vars``.

    Uses the service's template when there is one; when it fails, the built-in default, with
    ``error`` saying why. Raises ValueError for an unknown channel kind.
    """
    if channel not in CHANNEL_SHAPES:
        raise ValueError(f"unknown channel kind {channel!r}")
    kind = event_type(event)
    error = None
    source = templates.source(channel, kind) if templates is not None else None
    if source is not None:
        try:
            text, capped = _run(source, vars)
        except Exception as exc:  # noqa: BLE001 - a template can raise anything; the default stands in
            error = f"{channel}/{kind}: {_reason(exc)}; used the default"
        else:
            return _finish(text, capped, channel)
    try:
        text, capped = _run(DEFAULT_SOURCES[(channel, kind)], vars)
    except Exception as exc:  # noqa: BLE001 - never leave a page unsent over a template
        error = f"{channel}/{kind}: the default failed too: {_reason(exc)}"
        text = f"#{vars.get('number')} {vars.get('title')} ({vars.get('status')})"
        return _finish(f"{text} {vars.get('detail_url') or ''}", False, channel, error)
    return _finish(text, capped, channel, error)


def _finish(text: str, capped: bool, channel: str, error: str | None = None) -> Rendered:
    shown, cut = fit(text.strip(), BUDGETS[channel])
    return Rendered(shown, capped or cut, error)


def _reason(exc: Exception) -> str:
    """One line: the exception's message and the template line it happened on."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    bare = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc  # KeyError quotes
    message = " ".join(str(bare).split()) or type(exc).__name__
    where = f" (line {line})" if line is not None else ""
    return message[:ERROR_MAX_CHARS] + where
