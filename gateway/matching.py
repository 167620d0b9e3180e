"""Decides whether an alert or incident meets a set of conditions, and explains why or why not."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, Self

from pydantic import Field, PrivateAttr, field_validator, model_validator

from gateway.domain import AlertEvent, Incident, Severity
from gateway.strict import Strict

REGEX_SCAN_LIMIT = 4096
"""Regexes search only this many leading characters of a value (bounds backtracking cost)."""

_GOT_DISPLAY_LIMIT = 60
_BARE_FIELDS = frozenset({"severity", "integration", "enabled"})
_POSITIVE = {"∈": "∉", "=": "≠", "~": "!~", "contains": "lacks", "exists": "missing"}
_OPPOSITE = _POSITIVE | {negative: positive for positive, negative in _POSITIVE.items()}

Source = Literal["severity", "integration", "label", "title", "description"]


@dataclass(frozen=True, slots=True)
class Subject:
    """What conditions are checked against: an incoming alert or an open incident."""

    severity: Severity
    labels: Mapping[str, str]
    title: str
    description: str
    integration: str | None

    @classmethod
    def of_event(cls, event: AlertEvent, integration: str | None) -> Subject:
        """The subject for ``event`` arriving on ``integration``."""
        return cls(event.severity, event.labels, event.title, event.description, integration)

    @classmethod
    def of_incident(cls, incident: Incident) -> Subject:
        """The subject for an existing incident."""
        return cls(
            incident.severity,
            incident.labels,
            incident.title,
            incident.description,
            incident.integration,
        )


@dataclass(frozen=True, slots=True)
class Check:
    """One condition's verdict.

    Attributes:
        field: ``severity``, ``integration``, ``labels.<key>``, ``title`` or ``description``
            (``enabled`` for a disabled routing rule).
        wanted: The condition as an operator and operand, e.g. ``= 'dba'``, ``∈ [critical]``,
            ``~ /^prod/``, ``contains 'disk'``, ``exists``.
        got: The subject's value, or None when it has none (label absent, no integration).
        ok: Whether the condition holds.
    """

    field: str
    wanted: str
    got: str | None
    ok: bool


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One parsed value string: exists, regex, equals (labels) or contains (texts)."""

    kind: Literal["exists", "regex", "equals", "contains"]
    text: str
    regex: re.Pattern[str] | None
    negated: bool

    def test(self, value: str | None) -> bool:
        if self.kind == "exists":
            hit = bool(value)
        elif value is None:
            hit = False
        elif self.regex is not None:
            hit = self.regex.search(value[:REGEX_SCAN_LIMIT]) is not None
        elif self.kind == "contains":
            hit = self.text.casefold() in value.casefold()
        else:
            hit = value == self.text
        return hit != self.negated

    def operand(self) -> str:
        if self.kind == "regex":
            return f"/{self.text}/"
        return "" if self.kind == "exists" else repr(self.text)

    def wanted(self) -> str:
        ops = {"exists": "exists", "regex": "~", "equals": "=", "contains": "contains"}
        op = ops[self.kind]
        op = _OPPOSITE[op] if self.negated else op
        return f"{op} {self.operand()}".rstrip()


@dataclass(frozen=True, slots=True)
class _Condition:
    """One compiled condition: where the value comes from and what it must satisfy."""

    field: str
    source: Source
    key: str
    options: tuple[str, ...] = ()
    patterns: tuple[_Pattern, ...] = ()
    any_of: bool = False

    def value(self, subject: Subject) -> str | None:
        if self.source == "severity":
            return subject.severity.value
        if self.source == "integration":
            return subject.integration
        if self.source == "label":
            return subject.labels.get(self.key)
        return subject.title if self.source == "title" else subject.description

    def test(self, value: str | None) -> bool:
        if self.options:
            return value in self.options
        return any(p.test(value) for p in self.patterns)

    def wanted(self) -> str:
        if self.options:
            return f"∈ [{', '.join(self.options)}]"
        if self.any_of:
            return f"∈ [{', '.join(p.operand() for p in self.patterns)}]"
        return self.patterns[0].wanted()


def _parse(field: str, raw: str, plain: Literal["equals", "contains"], in_list: bool) -> _Pattern:
    """Parse one value string; raises ValueError naming ``field`` when it is unusable."""
    negated = raw.startswith("!") and not in_list
    body = raw[1:] if negated else raw
    if not body:
        raise ValueError(f"{field}: empty value (use '*' for any value, '!*' for none)")
    if in_list and (body == "*" or body.startswith("!")):
        raise ValueError(f"{field}: list items are plain values or /regex/; got {raw!r}")
    if body.startswith("!"):
        raise ValueError(f"{field}: {raw!r} negates twice; write '!\\!…' for a literal '!'")
    if body == "*":
        return _Pattern("exists", "", None, negated)
    if len(body) >= 2 and body[0] == body[-1] == "/":
        try:
            regex = re.compile(body[1:-1])
        except re.error as exc:
            raise ValueError(f"{field}: invalid regex {raw!r}: {exc}") from None
        return _Pattern("regex", body[1:-1], regex, negated)
    if body.startswith("\\"):
        body = body[1:]
    return _Pattern(plain, body, None, negated)


NonEmptyStrings = Annotated[list[str], Field(min_length=1)]


class Conditions(Strict):
    """Conditions on an alert or incident; every given one must hold, absent ones always do.

    ``severity`` and ``integration`` hold when the subject's value is one of those listed
    (``integration`` also takes a single string). ``labels``, ``title`` and ``description``
    take value strings:

    - ``"*"``: the label is set and non-empty; for ``title``/``description``, non-empty.
    - ``"/re/"``: a Python regex found anywhere in the value (``re.search``; anchor with
      ``^``/``$``, add ``(?i)`` for case-insensitive). Only the first 4096 characters are
      searched (:data:`REGEX_SCAN_LIMIT`), which bounds the cost of backtracking patterns.
    - ``"!…"``: the opposite of the rest: ``"!*"`` unset or empty, ``"!/re/"`` no match,
      ``"!x"`` anything but ``x``. An absent label satisfies every negation.
    - ``"\\…"`` (TOML ``"\\\\!x"``): one leading backslash is dropped and the rest taken
      literally, for values that start with ``!``, ``*``, ``/`` or ``\\``; ``"!\\\\!x"`` is
      "not ``!x``".
    - anything else: for a label, exactly equal; for ``title``/``description``, contained
      in it, ignoring case.

    A label may also take a list, ``env = ["prod", "/^staging-/"]``: any of the values (plain
    or regex; negate a whole regex instead, ``"!/^(dev|test)$/"``). Regexes are compiled
    when the configuration is loaded; a bad one is a ValueError naming its key.
    """

    severity: Annotated[list[Severity], Field(min_length=1)] | None = None
    integration: NonEmptyStrings | None = None
    labels: dict[str, str | NonEmptyStrings] = Field(default_factory=dict)
    title: str | None = None
    description: str | None = None

    _compiled: tuple[_Condition, ...] | None = PrivateAttr(default=None)

    @field_validator("integration", mode="before")
    @classmethod
    def _one_integration(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _compile_once(self) -> Self:
        self._compiled = _compile(self)
        return self


def _compile(cond: Conditions) -> tuple[_Condition, ...]:
    out: list[_Condition] = []
    if cond.severity is not None:
        options = tuple(s.value for s in cond.severity)
        out.append(_Condition("severity", "severity", "", options=options))
    if cond.integration is not None:
        out.append(_Condition("integration", "integration", "", options=tuple(cond.integration)))
    for key, spec in cond.labels.items():
        field = f"labels.{key}"
        raws = [spec] if isinstance(spec, str) else spec
        patterns = tuple(_parse(field, raw, "equals", not isinstance(spec, str)) for raw in raws)
        out.append(_Condition(field, "label", key, patterns=patterns, any_of=len(raws) > 1))
    texts: tuple[tuple[Source, str | None], ...] = (
        ("title", cond.title),
        ("description", cond.description),
    )
    for source, text in texts:
        if text is not None:
            pattern = _parse(source, text, "contains", in_list=False)
            out.append(_Condition(source, source, "", patterns=(pattern,)))
    return tuple(out)


def _conditions_of(cond: Conditions) -> tuple[_Condition, ...]:
    if cond._compiled is None:  # built with model_construct: validation never ran
        cond._compiled = _compile(cond)
    return cond._compiled


def matches(cond: Conditions, subject: Subject) -> bool:
    """Whether ``subject`` satisfies every condition in ``cond`` (no conditions: True).

    Args:
        cond: Validated conditions (regexes already compiled).
        subject: The alert or incident being checked.

    Returns:
        True when every given condition holds.
    """
    return all(c.test(c.value(subject)) for c in _conditions_of(cond))


def explain(cond: Conditions, subject: Subject) -> list[Check]:
    """Every condition's verdict on ``subject``, without stopping at the first failure.

    Args:
        cond: Validated conditions.
        subject: The alert or incident being checked.

    Returns:
        One check per condition, ordered severity, integration, labels (as configured),
        title, description; ``all(c.ok for c in checks)`` equals ``matches(cond, subject)``.
    """
    checks = []
    for c in _conditions_of(cond):
        got = c.value(subject)
        checks.append(Check(c.field, c.wanted(), got, c.test(got)))
    return checks


def _show(field: str, got: str | None) -> str:
    if got is None:
        return "(absent)"
    if len(got) > _GOT_DISPLAY_LIMIT:
        got = got[: _GOT_DISPLAY_LIMIT - 1] + "…"
    return got if field in _BARE_FIELDS else repr(got)


def describe(checks: Sequence[Check]) -> str:
    """One line stating each check as a fact, marked ✓ (held) or ✗ (failed).

    A failed check shows the opposite of the operator wanted, so every part is true as read:
    ``severity critical ∈ [critical] ✓, labels.team 'web' ≠ 'dba' ✗``. Values are quoted
    (except severity and integration), shortened past 60 characters, and ``(absent)`` when
    missing.

    Args:
        checks: Verdicts from :func:`explain`.

    Returns:
        The comma-separated sentence, or ``"no conditions"`` when there are none.
    """
    if not checks:
        return "no conditions"
    parts = []
    for check in checks:
        op, _, operand = check.wanted.partition(" ")
        relation = op if check.ok else _OPPOSITE.get(op, op)
        text = f"{check.field} {_show(check.field, check.got)} {relation} {operand}".rstrip()
        parts.append(f"{text} {'✓' if check.ok else '✗'}")
    return ", ".join(parts)


class RouteRuleSettings(Conditions):
    """A ``[[routing.rules]]`` entry: subjects meeting its conditions belong to ``service``."""

    service: str = Field(min_length=1)
    enabled: bool = True
    name: str | None = None


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """Where a subject was routed, and the explanation of every rule tried.

    Attributes:
        service: The owning service.
        rule: Index (from 0) of the rule that matched; None when the default service won.
        checks: ``(rule index, checks)`` for each rule tried, in order, up to and including
            the winner; a disabled rule has the single failed check ``enabled = true``.
    """

    service: str
    rule: int | None
    checks: tuple[tuple[int, tuple[Check, ...]], ...]


_DISABLED = (Check("enabled", "= true", "false", ok=False),)


def route(
    rules: Sequence[RouteRuleSettings], default_service: str, subject: Subject
) -> RouteDecision:
    """The service owning ``subject``: the first enabled rule that matches, else the default.

    Args:
        rules: Routing rules in configuration order.
        default_service: The service used when no rule matches.
        subject: The alert being routed.

    Returns:
        The decision, with the checks of every rule tried up to and including the winner.
    """
    tried: list[tuple[int, tuple[Check, ...]]] = []
    for index, rule in enumerate(rules):
        if not rule.enabled:
            tried.append((index, _DISABLED))
            continue
        checks = tuple(explain(rule, subject))
        tried.append((index, checks))
        if all(c.ok for c in checks):
            return RouteDecision(rule.service, index, tuple(tried))
    return RouteDecision(default_service, None, tuple(tried))


def _rule_label(index: int, rule: RouteRuleSettings) -> str:
    named = f" {rule.name!r}" if rule.name else ""
    return f"rule {index + 1}{named} (service {rule.service})"


def explain_route(decision: RouteDecision, rules: Sequence[RouteRuleSettings]) -> list[str]:
    """Human lines for ``ackgate simulate``: one per rule tried, then the outcome.

    Rules are numbered from 1 in file order and named when they have a ``name``, e.g.
    ``rule 3 'dba pages' (service database): labels.team 'dba' = 'dba' ✓ → match``.

    Args:
        decision: What :func:`route` returned.
        rules: The same rules that were passed to :func:`route`.

    Returns:
        The lines, the last one saying which service won and why.
    """
    lines = []
    for index, checks in decision.checks:
        rule = rules[index]
        body = "skipped (disabled)" if not rule.enabled else describe(checks)
        won = " → match" if index == decision.rule else ""
        lines.append(f"{_rule_label(index, rule)}: {body}{won}")
    if decision.rule is None:
        lines.append(f"no rule matched: default service {decision.service}")
    else:
        lines.append(f"routed to service {decision.service} by rule {decision.rule + 1}")
    return lines
